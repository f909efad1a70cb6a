"""The web page (`/`) and the score routes it edits beats through: a finished beat's score as
JSON, and a JSON score rendered by the one `Session.render`, as an uploaded MIDI file is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from audiogen.errors import RequestError
from audiogen.request import RenderRequest
from audiogen.server.jobs import JobQueue
from audiogen.server.replies import WaitS, answer_job, check_length
from audiogen.server.schema import ScoreRenderRequest, body_options

STATIC = Path(__file__).parent / "static"  # HTML, CSS and scripts: shipped, no CDN
Route = Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]


def add_page(app: FastAPI, route: Route, jobs: JobQueue, max_seconds: float) -> None:
    """The page at ``/`` (its files under ``/static``), and the score routes.

    Args:
        app: the API.
        route: makes the route of one of `schema.OPERATIONS` (see `app.create_app`).
        jobs: the API's job queue.
        max_seconds: the longest beat a request may ask for.
    """

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @route("get_beat_score")
    async def get_beat_score(id: str) -> dict[str, Any]:
        from audiogen.instruments import INSTRUMENTS
        from audiogen.pipeline import read_score

        job = jobs.finished(id)
        score = await run_in_threadpool(read_score, job.folder / "beat.mid")
        return {**score.to_dict(), "instruments": list(INSTRUMENTS)}

    @route("render_score", status_code=202)
    async def render_score(
        body: ScoreRenderRequest, request: Request, wait: WaitS = 0
    ) -> JSONResponse:
        from audiogen.score import DrumScore

        options = body_options(body)
        data = options.pop("score", None)
        if not isinstance(data, dict):
            raise RequestError('give the score as a JSON object: {"bpm": ..., "hits": [...]}')
        render = await run_in_threadpool(lambda: RenderRequest.create(**options))
        score = DrumScore.from_dict(data)
        check_length(score.bpm, str(score.meter), score.bars, max_seconds)
        described = {"source": "score", "render": render.to_dict()}
        job = jobs.submit("render", described, lambda s: s.render(score, render))
        return await answer_job(job, request, wait)
