"""What the `audiogen` commands share: the output folder they write and the pipeline session
whose progress they draw."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, overload

from audiogen.errors import AudiogenError

if TYPE_CHECKING:
    from audiogen.pipeline import Session


@overload
def out_dir(args: argparse.Namespace, default: Path) -> Path: ...
@overload
def out_dir(args: argparse.Namespace, default: None) -> Path | None: ...
def out_dir(args: argparse.Namespace, default: Path | None) -> Path | None:
    """The output folder: ``-o`` as given (an empty one is refused), else ``default``."""
    if args.out is None:
        return default
    if not args.out.strip():
        raise AudiogenError(f"-o {args.out!r}: name an output folder, such as out/my-beat")
    return Path(args.out)


@contextmanager
def terminal_session(args: argparse.Namespace) -> Iterator[Session]:
    """A pipeline session whose progress is drawn on the terminal (not with --quiet)."""
    from audiogen.pipeline import Session
    from audiogen.progress import terminal_bar

    with terminal_bar(enabled=None if not args.quiet else False) as draw:
        yield Session(callback=draw)
