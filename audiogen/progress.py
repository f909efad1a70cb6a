"""The one progress helper: a transient rich bar on stderr for long work, silent when piped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class Steps:
    """Named steps of one job; `advance` moves the bar and says what runs next."""

    def __init__(self, progress, task) -> None:
        self._progress, self._task = progress, task

    def advance(self, description: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=description)


@contextmanager
def steps(total: int, first: str, enabled: bool | None = None) -> Iterator[Steps]:
    """Show progress over ``total`` steps; ``enabled=None`` shows it only on a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield Steps(None, None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        yield Steps(progress, progress.add_task(first, total=total))
