"""The one progress helper: a rich bar on stderr for long work, silent when piped."""

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


class Counter(Steps):
    """Items of work counted; `advance(n)` moves the bar by ``n`` items."""

    def advance(self, n: int = 1) -> None:  # type: ignore[override]
        if self._progress is not None:
            self._progress.update(self._task, advance=n)


@contextmanager
def _bar(kind: type[Steps], total: int, first: str, enabled: bool | None, eta: bool):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield kind(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description:<24}"), BarColumn()]
    if eta:
        columns += [MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA")]
        columns.append(TimeRemainingColumn())
    else:
        columns.append(TimeElapsedColumn())
    # A job's steps vanish when done; a batch's count stays on screen as a record.
    with Progress(*columns, console=Console(stderr=True), transient=not eta) as progress:
        yield kind(progress, progress.add_task(first, total=total))


@contextmanager
def steps(total: int, first: str, enabled: bool | None = None) -> Iterator[Steps]:
    """Show progress over ``total`` steps; ``enabled=None`` shows it only on a terminal."""
    with _bar(Steps, total, first, enabled, eta=False) as bar:
        yield bar


@contextmanager
def counter(total: int, description: str, enabled: bool | None = None) -> Iterator[Counter]:
    """Count ``total`` items of work with a bar, the count, time taken and time left (ETA)."""
    with _bar(Counter, total, description, enabled, eta=True) as bar:
        yield bar
