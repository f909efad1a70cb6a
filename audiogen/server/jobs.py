"""The server's jobs: a bounded queue of requests run by worker threads, each holding one
`Session` (its models loaded once), each job's beat written atomically into ``<out>/<id>/`` by
`Beat.save`, as the CLI writes it.

Each job has a record (``<out>/.jobs/<id>.json``) so that a restarted server still knows it: done
if its folder is there and whole (every file its manifest lists, of the size and hash listed),
else failed; a folder with no record is a failed job too. Failed or done, they expire after a time
to live, their files with them. One server at a time writes a folder (``<out>/.serve.lock``).
With the Ray backend the jobs run as the batch's Ray tasks, each worker thread waiting on one.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import queue
import re
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiogen.errors import AudiogenError, OutputError, RequestError
from audiogen.files import atomic_path, take_lock, write_text_atomic
from audiogen.server.errors import Busy, NotFinished, NotFound

if TYPE_CHECKING:
    from audiogen.beat import Beat
    from audiogen.pipeline import Session
    from audiogen.progress import Progress
    from audiogen.server.ray_jobs import RayJobs

log = logging.getLogger(__name__)
STEMS_ZIP = "stems.zip"
RECORDS = ".jobs"  # inside the output folder: one record per job
LOCK = ".serve.lock"  # inside the output folder: held by the server writing it
BACKENDS = ("local", "ray")
TTL_S = 3600.0  # how long a finished job's files are kept
ID_BYTES = 8
_ID = re.compile(f"[0-9a-f]{{{2 * ID_BYTES}}}")
CLOSE_WAIT_S = 2.0  # how long closing waits for a worker
FIRST_GUESS_S = 10.0  # how long a job takes, before one has finished
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries' date: the same stems give the same zip


@dataclass
class Job:
    """One request on its way; its worker writes its state, the routes read it."""

    id: str
    kind: str  # generate, vary or render
    request: dict[str, Any]  # as resolved, for the client to see
    run: Callable[[Session], Beat] | None = field(repr=False)  # None: restored, never run
    folder: Path
    status: str = "queued"  # queued → running → done or failed
    step: str = "queued"
    progress: float = 0.0
    error: str | None = None
    files: tuple[str, ...] = ()  # what the manifest lists, once done
    created: float = field(default_factory=time.time)
    ended: float | None = None
    deleted: bool = False
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def update(self, event: Progress) -> None:
        """The session's progress callback."""
        self.step = "writing files" if event.task == "done" else event.task
        self.progress = event.fraction

    def record(self) -> dict[str, Any]:
        """What a restarted server needs to know of the job."""
        keys = ("id", "kind", "request", "status", "error", "created", "ended")
        return {key: getattr(self, key) for key in keys}


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
        session: makes a worker's session (default: `loaded_session`; not used on Ray).
        ttl_s: how long a finished job (and its files) is kept.
        backend: "local" (each worker runs its jobs) or "ray" (each hands them to Ray).
        address: the Ray cluster (default: one started here).
    """

    def __init__(
        self,
        out_dir: Path,
        workers: int,
        max_queue: int,
        session: Callable[[], Session] = loaded_session,
        ttl_s: float = TTL_S,
        backend: str = "local",
        address: str | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise RequestError(f"backend {backend!r}: use {' or '.join(BACKENDS)}")
        self.out_dir = Path(out_dir)
        self.backend, self.address = backend, address
        self._ray: RayJobs | None = None
        self._lock_fd: int | None = None
        self.workers = workers
        self.ttl_s = ttl_s
        self._session = session
        self._jobs: dict[str, Job] = {}
        self._waiting: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._zipping = threading.Lock()  # two threads' zips would share one temporary file
        self._seconds: collections.deque[float] = collections.deque(maxlen=20)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def open(self) -> None:
        """Connect to Ray (with that backend), then make the output folder and lock it: one
        server per folder, for each takes what it finds there as its own. Done by `start`, or
        before it, so that a server that cannot start says so in one line.

        Raises:
            OutputError: Ray cannot start (nothing is made), the folder cannot be made, or
                another server holds it.
        """
        if self._lock_fd is not None:
            return
        if self.backend == "ray" and self._ray is None:
            from audiogen.server.ray_jobs import RayJobs

            self._ray = RayJobs(self.workers, self.address)
        try:
            try:
                (self.out_dir / RECORDS).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create {self.out_dir}: {exc.strerror}") from None
            self._lock_fd = take_lock(
                self.out_dir / LOCK,
                "another audiogen serve{holder} writes {folder}: stop it, or give this one "
                "another --out",
            )
        except OutputError:
            if self._ray is not None:
                self._ray.close()
                self._ray = None
            raise

    def start(self) -> None:
        """Lock the output folder (`open`), take back the jobs a previous server left, and
        start the workers and the sweeper of expired jobs."""
        from audiogen.export import clear_leftovers

        self.open()
        clear_leftovers(self.out_dir)  # what a killed server left half-written
        for partial in [*self.out_dir.glob(".*.partial"), *self.out_dir.glob(f"{RECORDS}/.*")]:
            partial.unlink(missing_ok=True)  # a stems zip's or a record's, cut off
        self._restore()
        threads = [(self._work, f"audiogen-job-{i}") for i in range(self.workers)]
        for target, name in [*threads, (self._sweep, "audiogen-expiry")]:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the workers once their running jobs end; waiting jobs fail. A job still running
        when the process exits leaves only a staging folder, which the next start removes.
        Then let go of Ray and the folder's lock (also when the server never started)."""
        if self._threads and not self._stopping.is_set():
            while True:
                try:
                    job = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    self._finish(job, "failed", "the server stopped before this job ran")
            self._stopping.set()
            for _ in range(self.workers):
                self._waiting.put(None)
            for thread in self._threads:  # idle ones end at once; a running job is not awaited
                thread.join(timeout=CLOSE_WAIT_S)
        if self._ray is not None:
            self._ray.close()
            self._ray = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the lock goes with it
            self._lock_fd = None

    def submit(self, kind: str, request: dict[str, Any], run: Callable[[Session], Beat]) -> Job:
        """Queue a job that makes its beat with ``run(session)``.

        Raises:
            Busy: the queue is full.
        """
        job_id = secrets.token_hex(ID_BYTES)
        job = Job(job_id, kind, request, run, self.out_dir / job_id)
        with self._lock:
            if self._waiting.full():
                wait = self.retry_after_s()
                raise Busy(
                    f"the server is busy ({self._waiting.qsize()} jobs waiting): try again in "
                    f"{wait} s",
                    retry_after_s=wait,
                )
            self._write_record(job)  # before a worker can take it
            self._jobs[job.id] = job
            self._waiting.put_nowait(job)  # only submit puts, under the lock: there is room
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
        with self._zipping:
            if path.exists():
                return path
            with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
                for name in self._stems(job):
                    with (
                        (job.folder / name).open("rb") as src,
                        archive.open(zipfile.ZipInfo(name, _ZIP_TIME), "w") as dst,
                    ):
                        shutil.copyfileobj(src, dst)
        return path

    def expire(self, now: float | None = None) -> None:
        """Delete the jobs that finished longer than the time to live ago."""
        now = time.time() if now is None else now
        with self._lock:
            old = [job for job in self._jobs.values()
                   if job.ended is not None and now - job.ended >= self.ttl_s]  # fmt: skip
        for job in old:
            try:
                self.delete(job.id)
            except NotFound:  # deleted meanwhile
                pass

    def _sweep(self) -> None:
        while not self._stopping.wait(min(self.ttl_s / 4, 60.0)):
            self.expire()

    def _remove(self, job: Job) -> None:
        shutil.rmtree(job.folder, ignore_errors=True)
        (self.out_dir / f"{job.id}.{STEMS_ZIP}").unlink(missing_ok=True)
        self._record_path(job.id).unlink(missing_ok=True)

    def _record_path(self, job_id: str) -> Path:
        return self.out_dir / RECORDS / f"{job_id}.json"

    def _write_record(self, job: Job) -> None:
        try:
            write_text_atomic(self._record_path(job.id), json.dumps(job.record()))
        except OSError as exc:  # the job runs on; only a restart would not know it
            log.warning("cannot write the record of job %s: %s", job.id, exc)

    def _restore(self) -> None:
        """The jobs a previous server left: done where their folder is whole, else failed (a
        folder is renamed into place whole, but a kill while one expired can leave part of
        it). A job folder without a record, and a stems zip without a job, are left by a kill
        too: the folder is a failed job, which expires as any other; the zip goes now."""
        from audiogen.batch import is_done

        for path in sorted((self.out_dir / RECORDS).glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                job = Job(record["id"], record["kind"], record["request"], None,
                          self.out_dir / record["id"], created=record["created"])  # fmt: skip
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("%s is not a job record: left alone", path)
                continue
            if path.stem != job.id or not _ID.fullmatch(job.id):  # the id names a folder
                continue
            job.files = _manifest_files(job.folder) if is_done(job.folder) else ()
            if job.files:
                status, error = "done", None
            elif record.get("status") == "failed":
                status, error = "failed", record.get("error")
            else:
                status, error = "failed", "the server stopped before this job was finished"
            job.status = job.step = status
            job.error, job.progress = error, 1.0 if status == "done" else 0.0
            job.ended = record.get("ended") or time.time()
            self._restored(job)
        for folder in self.out_dir.iterdir():
            if _ID.fullmatch(folder.name) and folder.name not in self._jobs:
                lost = Job(folder.name, "unknown", {}, None, folder, created=time.time())
                lost.status = lost.step = "failed"
                lost.error = "the server stopped before this job was recorded"
                lost.ended = time.time()
                self._restored(lost)
        for zipped in self.out_dir.glob(f"*.{STEMS_ZIP}"):
            if zipped.name.removesuffix(f".{STEMS_ZIP}") not in self._jobs:
                zipped.unlink(missing_ok=True)

    def _restored(self, job: Job) -> None:
        job.finished.set()
        self._jobs[job.id] = job
        self._write_record(job)

    def _work(self) -> None:
        session = self._session() if self._ray is None else None
        while (job := self._waiting.get()) is not None:
            with self._lock:
                if job.deleted:
                    continue
                job.status = job.step = "running"
            started = time.monotonic()
            if session is not None:
                session.callback = job.update
            assert job.run is not None  # only restored jobs have none, and they are not queued
            try:
                if self._ray is not None:
                    self._ray.run(job.run, job.folder)
                else:
                    assert session is not None
                    job.run(session).save(job.folder)
                job.files = _manifest_files(job.folder)
            except AudiogenError as exc:
                self._finish(job, "failed", str(exc))
            except Exception as exc:  # a bug: the client gets one line, the log the traceback
                log.exception("job %s failed", job.id)
                self._finish(job, "failed", f"internal error: {exc!r}")
            else:
                self._finish(job, "done")
            finally:
                if session is not None:
                    session.callback = None
                self._seconds.append(time.monotonic() - started)

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        with self._lock:
            job.status, job.step, job.error = status, status, error
            job.ended = time.time()
            if status == "done":
                job.progress = 1.0
            deleted = job.deleted
            if not deleted:  # under the lock: a delete now waits, then removes this record too
                self._write_record(job)
        job.finished.set()
        if deleted:
            self._remove(job)


def _manifest_files(folder: Path) -> tuple[str, ...]:
    """The files a beat's manifest lists, and the manifest (nothing when there is none)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return (*sorted(manifest["files"]), "manifest.json")
    except (OSError, ValueError, KeyError, TypeError):
        return ()
