"""The server's jobs on the batch's Ray backend: each job a Ray task in a worker process with its
own session (`batch.worker_session`), so one server can front a cluster; the files are the ones
a local worker writes. The output folder must be one the workers can write (shared, on a
cluster)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from audiogen.errors import AudiogenError

if TYPE_CHECKING:
    from audiogen.beat import Beat
    from audiogen.pipeline import Session


class RayJobs:
    """Jobs run as Ray tasks of the batch's Ray backend, in its worker processes (each with its
    session); the files are the ones a local worker writes."""

    def __init__(self, workers: int, address: str | None) -> None:
        from audiogen.batch import start_ray

        self._started = start_ray(workers, address)
        import ray

        self._task = ray.remote(num_cpus=1)(run_on_ray)

    def run(self, run: Callable[[Session], Beat], folder: Path) -> None:
        import ray

        error = ray.get(self._task.remote(run, str(folder)))
        if error is not None:
            raise AudiogenError(error)

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def run_on_ray(run: Callable[[Session], Beat], folder: str) -> str | None:
    """A job in a Ray worker: its beat written into ``folder``; what refused it, in one line."""
    from audiogen.batch import worker_session

    try:
        run(worker_session()).save(Path(folder))
    except AudiogenError as exc:
        return str(exc)
    return None
