"""Writing files so that a reader never sees half of one: write beside, then rename into place;
and telling a dead writer's leftovers from a live one's."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audiogen.errors import OutputError


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


def take_lock(path: Path, busy: str) -> int:
    """Hold an advisory lock on the file ``path`` (created) for as long as the returned
    descriptor is open, and write this process's pid in it.

    The kernel drops the lock when the process ends in any way (a ``kill -9`` included), so a
    lock is never left behind, and taking it is one atomic step: two processes racing for it
    (or for one a dead process left) cannot both win, and a lock still empty because its holder
    has not written its pid yet is held all the same. A holder may unlink the file on its way
    out: a process that opened it meanwhile sees that it is gone and tries again.

    Args:
        path: the lock file.
        busy: the message when another process holds it; ``{holder}`` becomes " (process
            PID)" where the file names one, ``{folder}`` the file's folder.

    Raises:
        OutputError: another process holds it, or the file cannot be opened.
    """
    import fcntl

    for _ in range(100):  # a retry only when the holder let go between open and flock
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot lock {path.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            holder = f" (process {text})" if text.isdigit() else ""
            raise OutputError(busy.format(holder=holder, folder=path.parent)) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:  # removed by a holder on its way out
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            return fd
        os.close(fd)
    raise OutputError(f"cannot lock {path.parent}")


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
