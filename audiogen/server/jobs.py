"""The server's jobs: a bounded queue of requests run by worker threads, each holding one
`Session` (its models loaded once), each job's beat written atomically into ``<out>/<id>/`` by
`Beat.save`, as the CLI writes it."""

from __future__ import annotations

import collections
import json
import logging
import math
import queue
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiogen.errors import AudiogenError, OutputError
from audiogen.files import atomic_path
from audiogen.server.errors import Busy, NotFinished, NotFound

if TYPE_CHECKING:
    from audiogen.beat import Beat
    from audiogen.pipeline import Session
    from audiogen.progress import Progress

log = logging.getLogger(__name__)
STEMS_ZIP = "stems.zip"
CLOSE_WAIT_S = 2.0  # how long closing waits for a worker
FIRST_GUESS_S = 10.0  # how long a job takes, before one has finished
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries' date: the same stems give the same zip


@dataclass
class Job:
    """One request on its way; its worker writes its state, the routes read it."""

    id: str
    kind: str  # generate, vary or render
    request: dict[str, Any]  # as resolved, for the client to see
    run: Callable[[Session], Beat] = field(repr=False)
    folder: Path
    status: str = "queued"  # queued → running → done or failed
    step: str = "queued"
    progress: float = 0.0
    error: str | None = None
    files: tuple[str, ...] = ()  # what the manifest lists, once done
    created: float = field(default_factory=time.time)
    deleted: bool = False
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def update(self, event: Progress) -> None:
        """The session's progress callback."""
        self.step = "writing files" if event.task == "done" else event.task
        self.progress = event.fraction


def loaded_session() -> Session:
    """A `Session` with its models loaded now, not by its first request (a failure to load is
    logged here, and reported to the first request that needs the model)."""
    from audiogen.pipeline import Session

    session = Session()
    try:
        _ = (session.planner, session.humanizer)
    except Exception:
        log.exception("loading the models failed")
    return session


class JobQueue:
    """Jobs by id, waiting in a bounded queue for worker threads.

    Args:
        out_dir: where each job's folder is written.
        workers: threads, each with its own session.
        max_queue: jobs that may wait beyond those running; one more is refused (`Busy`).
        session: makes a worker's session (default: `loaded_session`).
    """

    def __init__(
        self,
        out_dir: Path,
        workers: int,
        max_queue: int,
        session: Callable[[], Session] = loaded_session,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.workers = workers
        self._session = session
        self._jobs: dict[str, Job] = {}
        self._waiting: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._seconds: collections.deque[float] = collections.deque(maxlen=20)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Make the output folder and start the workers."""
        from audiogen.export import clear_leftovers

        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {self.out_dir}: {exc.strerror}") from None
        clear_leftovers(self.out_dir)  # what a killed server left half-written
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"audiogen-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the workers once their running jobs end; waiting jobs fail. A job still running
        when the process exits leaves only a staging folder, which the next start removes."""
        while True:
            try:
                job = self._waiting.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._finish(job, "failed", "the server stopped before this job ran")
        for _ in self._threads:
            self._waiting.put(None)
        for thread in self._threads:  # idle ones end at once; a running job is not waited for
            thread.join(timeout=CLOSE_WAIT_S)

    def submit(self, kind: str, request: dict[str, Any], run: Callable[[Session], Beat]) -> Job:
        """Queue a job that makes its beat with ``run(session)``.

        Raises:
            Busy: the queue is full.
        """
        job_id = secrets.token_hex(8)
        job = Job(job_id, kind, request, run, self.out_dir / job_id)
        with self._lock:
            try:
                self._waiting.put_nowait(job)
            except queue.Full:
                wait = self.retry_after_s()
                raise Busy(
                    f"the server is busy ({self._waiting.qsize()} jobs waiting): try again in "
                    f"{wait} s",
                    retry_after_s=wait,
                ) from None
            self._jobs[job.id] = job
        return job

    def retry_after_s(self) -> int:
        """About when a place in the queue frees: the waiting jobs at recent jobs' pace."""
        recent = self._seconds or (FIRST_GUESS_S,)
        pace = sum(recent) / len(recent)
        return max(1, math.ceil(pace * (self._waiting.qsize() + 1) / max(self.workers, 1)))

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no beat {job_id!r} here (it may have been deleted)")
        return job

    def finished(self, job_id: str) -> Job:
        """A job whose beat is written, for the operations that read it."""
        job = self.get(job_id)
        if job.status != "done":
            raise NotFinished(f"beat {job_id!r} is {job.status}, not done")
        return job

    def delete(self, job_id: str) -> None:
        """Forget a job and remove its files (a running one's once it ends)."""
        with self._lock:
            job = self.get(job_id)
            del self._jobs[job_id]
            job.deleted = True
            active = job.status in ("queued", "running")
        if not active:
            self._remove(job)

    def file(self, job_id: str, name: str) -> Path:
        """A finished job's file by the name its manifest gives it, or the stems as one zip.
        Only listed names are served, so no name reaches outside the job's folder."""
        job = self.finished(job_id)
        if name == STEMS_ZIP and self._stems(job):
            return self._stems_zip(job)
        if name not in job.files:
            raise NotFound(f"beat {job_id!r} has no file {name!r}; it has {', '.join(job.files)}")
        return job.folder / name

    def file_names(self, job: Job) -> tuple[str, ...]:
        """What `file` serves for ``job``."""
        return (*job.files, STEMS_ZIP) if self._stems(job) else job.files

    def _stems(self, job: Job) -> list[str]:
        return [name for name in job.files if name.startswith("stems/")]

    def _stems_zip(self, job: Job) -> Path:
        """The job's stems in one zip, made when first asked for, beside the job's folder (which
        holds what its manifest lists, and nothing else)."""
        path = self.out_dir / f"{job.id}.{STEMS_ZIP}"
        if not path.exists():
            with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
                for name in self._stems(job):
                    with (
                        (job.folder / name).open("rb") as src,
                        archive.open(zipfile.ZipInfo(name, _ZIP_TIME), "w") as dst,
                    ):
                        shutil.copyfileobj(src, dst)
        return path

    def _remove(self, job: Job) -> None:
        shutil.rmtree(job.folder, ignore_errors=True)
        (self.out_dir / f"{job.id}.{STEMS_ZIP}").unlink(missing_ok=True)

    def _work(self) -> None:
        session = self._session()
        while (job := self._waiting.get()) is not None:
            with self._lock:
                if job.deleted:
                    continue
                job.status = job.step = "running"
            started = time.monotonic()
            session.callback = job.update
            try:
                job.run(session).save(job.folder)
                manifest = json.loads((job.folder / "manifest.json").read_text(encoding="utf-8"))
                job.files = (*sorted(manifest["files"]), "manifest.json")
            except AudiogenError as exc:
                self._finish(job, "failed", str(exc))
            except Exception as exc:  # a bug: the client gets one line, the log the traceback
                log.exception("job %s failed", job.id)
                self._finish(job, "failed", f"internal error: {exc!r}")
            else:
                self._finish(job, "done")
            finally:
                session.callback = None
                self._seconds.append(time.monotonic() - started)

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        with self._lock:
            job.status, job.step, job.error = status, status, error
            if status == "done":
                job.progress = 1.0
            deleted = job.deleted
        job.finished.set()
        if deleted:
            self._remove(job)
