"""Writing files so that a reader never sees half of one: write beside, then rename into place;
and telling a dead writer's leftovers from a live one's."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block ends without error.

    >>> with atomic_path(folder / "model.safetensors") as tmp:
    ...     save_file(state, str(tmp))

    A failure (or a kill) inside the block leaves ``path`` as it was and removes the temporary
    file; a rename within one folder is atomic, so ``path`` is always either old or new.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")  # two processes may race
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def exists(path: str | Path) -> bool:
    """Whether ``path`` is there; a path the system cannot even look up (a name past 255 bytes,
    one past the path length limit, a NUL character) is not, instead of an OSError."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def expand_user(path: str | Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; as given when there is no such user
    (so that it is reported missing, not a RuntimeError)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (one of another user's counts as running)."""
    if pid <= 0:  # 0 and negatives name process groups, not a process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError):  # not a pid this system can have
        return False
    return True


def sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, in hex (read in blocks: a sample pack's files can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
