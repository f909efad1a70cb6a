"""How the API answers a job: its view (state, progress, resolved request, file URLs), once
finished if the client waits for it, and the length check every beat-making route makes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from audiogen.errors import RequestError
from audiogen.server.jobs import Job, JobQueue
from audiogen.server.schema import WAIT_HELP

MAX_WAIT_S = 300.0  # the longest ?wait a request is held for
_POLL_S = 0.05
WaitS = Annotated[float, Query(ge=0, description=WAIT_HELP)]


def job_view(job: Job, request: Request) -> dict[str, Any]:
    """A job as the client sees it: state, progress 0-1, resolved request, file URLs."""
    jobs: JobQueue = request.app.state.jobs
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "step": job.step,
        "progress": round(job.progress, 3),
        "error": job.error,
        "created": _time(job.created),
        "expires": _time(job.ended + jobs.ttl_s) if job.ended is not None else None,
        "url": str(request.url_for("get_beat", id=job.id)),
        "request": job.request,
        "files": {
            name: str(request.url_for("get_beat_file", id=job.id, name=name))
            for name in jobs.file_names(job)
        },
    }


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


async def answer_job(job: Job, request: Request, wait: float) -> JSONResponse:
    """The job, once finished if that takes at most ``wait`` seconds (200), else as it is now
    (202); polled, so a waiting client holds no thread."""
    deadline = time.monotonic() + min(wait, MAX_WAIT_S)
    while not job.finished.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_S)
    view = job_view(job, request)
    status = 200 if job.finished.is_set() else 202
    return JSONResponse(view, status_code=status, headers={"Location": view["url"]})


def check_length(bpm: float, meter: str, bars: int, max_seconds: float) -> None:
    from audiogen.score import DrumScore, Meter

    seconds = DrumScore(bpm, Meter.parse(meter), bars, ()).duration_s
    if seconds > max_seconds:
        raise RequestError(
            f"{bars} bars at {bpm:g} bpm last {seconds:.0f} s: this server makes at most "
            f"{max_seconds:g} s per request"
        )
