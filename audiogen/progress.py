"""Progress: the events the pipeline reports, and the one terminal bar that draws them.

Library code only reports, through a `ProgressCallback` (as demucs' ``Separator(callback=...)``);
the front doors decide how to show it — the CLI with `terminal_bar`, a server as JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import ProgressColumn, TaskID


@dataclass(frozen=True)
class Progress:
    """Where a job stands: ``done`` of ``total`` steps (or items), and what runs now."""

    task: str
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


ProgressCallback = Callable[[Progress], None]


def report(callback: ProgressCallback | None, task: str, done: int, total: int) -> None:
    """Send one event to ``callback`` if there is one."""
    if callback is not None:
        callback(Progress(task, done, total))


@contextmanager
def terminal_bar(enabled: bool | None = None, items: bool = False) -> Iterator[ProgressCallback]:
    """A rich bar on stderr that draws the events sent to the callback it yields.

    Args:
        enabled: draw at all; None draws only when stderr is a terminal.
        items: the events count items of work (a batch): the bar shows the count, the time
            taken and the time left, and stays on screen as a record. Otherwise they are the
            named steps of one job, and the bar vanishes when it is done.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda event: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    columns: list[ProgressColumn] = [TextColumn("{task.description:<24}"), BarColumn()]
    if items:
        columns += [MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA")]
        columns.append(TimeRemainingColumn())
    else:
        columns.append(TimeElapsedColumn())
    with Bar(*columns, console=Console(stderr=True), transient=not items) as bar:
        tasks: list[TaskID] = []

        def draw(event: Progress) -> None:
            if not tasks:
                tasks.append(bar.add_task(event.task, total=event.total))
            bar.update(tasks[0], completed=event.done, total=event.total, description=event.task)

        yield draw
