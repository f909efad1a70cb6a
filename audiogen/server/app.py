"""The HTTP API: FastAPI routes over the one pipeline. A request is resolved by the one option
schema, run by a `Session` on the job queue (`audiogen.server.jobs`) and written by `Beat.save`,
as the CLI does it, so the same request and seed give the same bytes."""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from audiogen import __version__
from audiogen.errors import AudiogenError, MidiError, RequestError
from audiogen.request import RenderRequest, resolve_generation, split_vary_options
from audiogen.server.errors import Busy, HttpError
from audiogen.server.guards import BodyLimit, allow_origins, require_token
from audiogen.server.jobs import TTL_S, JobQueue, loaded_session
from audiogen.server.page import add_page
from audiogen.server.replies import WaitS, answer_job, check_length, job_view
from audiogen.server.schema import (
    OPERATION,
    BeatRequest,
    Error,
    ExplainRequest,
    RenderOptions,
    VaryRequest,
    body_options,
    query_parameters,
)

if TYPE_CHECKING:
    from audiogen.pipeline import Session
    from audiogen.score import DrumScore

log = logging.getLogger(__name__)
MAX_SECONDS = 600.0  # the longest beat one request may ask for
MAX_UPLOAD_BYTES = 1 << 20  # a drum MIDI file is kilobytes; a megabyte is a long song
MAX_PROMPT_CHARS = 1000


def create_app(
    out_dir: str | Path,
    workers: int | None = None,
    max_queue: int | None = None,
    max_seconds: float = MAX_SECONDS,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    session: Callable[[], Session] = loaded_session,
    token: str | None = None,
    ttl_s: float = TTL_S,
    cors: Sequence[str] = (),
    backend: str = "local",
    address: str | None = None,
) -> FastAPI:
    """The API as an ASGI app (serve it with uvicorn, as `audiogen serve` does).

    Args:
        out_dir: where each beat's folder is written (``<out_dir>/<id>/``).
        workers: jobs run at once, each worker with its own `Session` (default: one per core).
        max_queue: jobs that may wait beyond the running ones (default: 4 per worker); one more
            is answered 429 with Retry-After.
        max_seconds: the longest beat a request may ask for.
        max_upload_bytes: the largest body any request may send, a MIDI file for
            `POST /v1/render` included, with a declared length or without (413 beyond).
        session: makes a worker's session (default: one with its models loaded at start).
        token: when set, every API request must carry ``Authorization: Bearer <token>`` (401);
            the page asks for it.
        ttl_s: how long a finished beat (and its files) is kept, across restarts too.
        cors: the origins whose pages may call the API from a browser (default: none).
        backend: "local" (worker threads here) or "ray" (the batch's Ray backend).
        address: the Ray cluster (default: a Ray started here).
    """
    workers = workers or os.cpu_count() or 1
    jobs = JobQueue(
        Path(out_dir), workers, max_queue or 4 * workers, session, ttl_s, backend, address
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        jobs.close()

    app = FastAPI(
        title="audiogen",
        version=__version__,
        description="Royalty-free drum beats, offline: a request or a drum MIDI file in; a mix, "
        'stems, MIDI and a manifest out. Bad requests get 4xx with `{"error": one line}`.',
        lifespan=lifespan,
    )
    app.state.jobs = jobs
    _handle_errors(app)
    app.add_middleware(BodyLimit, limit=max_upload_bytes)
    if token is not None:
        require_token(app, token)
    if cors:
        allow_origins(app, cors)

    def route(name: str, **extra: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A route for one of `schema.OPERATIONS`, named and described there."""
        op = OPERATION[name]
        return app.api_route(
            op.path, methods=[op.method], name=op.name, operation_id=op.name,
            description=op.description, responses={422: {"model": Error}, "4XX": {"model": Error}},
            **extra,
        )  # fmt: skip

    @route("generate_beat", status_code=202)
    async def generate_beat(body: BeatRequest, request: Request, wait: WaitS = 0) -> JSONResponse:
        options = body_options(body)
        prompt = options.pop("prompt", None)
        if prompt is not None and not isinstance(prompt, str):
            raise RequestError(f"prompt {prompt!r}: give a sentence")
        if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
            raise RequestError(f"the prompt is over {MAX_PROMPT_CHARS} characters: say it shorter")
        resolved = await run_in_threadpool(resolve_generation, prompt, options)
        plan = resolved.plan
        assert plan.bpm is not None and plan.bars is not None and plan.meter is not None
        check_length(plan.bpm, plan.meter, plan.bars, max_seconds)
        described = {
            "prompt": resolved.prompt.to_dict() if resolved.prompt is not None else None,
            "plan": plan.to_dict(),
            "render": resolved.render.to_dict(),
        }
        job = jobs.submit("generate", described, lambda s: s.generate(resolved))
        return await answer_job(job, request, wait)

    @route("get_beat")
    def get_beat(id: str, request: Request) -> JSONResponse:
        return JSONResponse(job_view(jobs.get(id), request))

    @route("delete_beat", status_code=204)
    def delete_beat(id: str) -> Response:
        jobs.delete(id)
        return Response(status_code=204)

    @route("get_beat_file", response_class=FileResponse)
    def get_beat_file(id: str, name: str) -> FileResponse:
        path = jobs.file(id, name)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type)

    @route("vary_beat", status_code=202)
    async def vary_beat(
        id: str, body: VaryRequest, request: Request, wait: WaitS = 0
    ) -> JSONResponse:
        from audiogen.pipeline import read_score
        from audiogen.planner.arrange import parse_form

        source = jobs.finished(id)
        options, render = await run_in_threadpool(split_vary_options, body_options(body))
        # as `audiogen vary <out>/beat.mid` reads it, so its manifest names the same input
        midi = source.folder / "beat.mid"
        score = await run_in_threadpool(read_score, midi, render.note_map)
        assert options.form is not None  # `VaryOptions.create` spells it out
        bars = sum(s.bars for s in parse_form(options.form))
        check_length(score.bpm, str(score.meter), bars, max_seconds)
        described = {"source": id, "vary": options.to_dict(), "render": render.to_dict()}
        job = jobs.submit("vary", described, lambda s: s.vary(score, options, render, midi.name))
        return await answer_job(job, request, wait)

    render_openapi = {
        "parameters": [
            *query_parameters(RenderOptions),
            {"name": "filename", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "the file's name, as the manifest gives the source (default: "
             "upload.mid)"},
        ],
        "requestBody": {
            "required": True,
            "content": {"audio/midi": {"schema": {"type": "string", "format": "binary"}}},
        },
    }  # fmt: skip

    @route("render_midi", status_code=202, openapi_extra=render_openapi)
    async def render_midi(request: Request, wait: WaitS = 0) -> JSONResponse:
        options: dict[str, Any] = dict(request.query_params)
        options.pop("wait", None)
        filename = options.pop("filename", "upload.mid")
        render = await run_in_threadpool(lambda: RenderRequest.create(**options))
        data = await _upload(request)
        score = await run_in_threadpool(_read_upload, data, filename, render.note_map)
        check_length(score.bpm, str(score.meter), score.bars, max_seconds)
        described = {"source": Path(filename).name, "render": render.to_dict()}
        job = jobs.submit("render", described, lambda s: s.render(score, render))
        return await answer_job(job, request, wait)

    explainer: list[Session] = []  # one session for lessons, made at the first
    explaining = threading.Lock()

    def lesson(options: dict[str, Any]) -> dict[str, Any]:
        from audiogen.explain.run import lesson_answer

        with explaining:  # one lesson at a time through the one planner
            if not explainer:
                explainer.append(session())
            return lesson_answer(explainer[0], options)

    @route("list_topics")
    def list_topics() -> list[dict[str, Any]]:
        from audiogen.explain.topics import TOPICS

        return [{"name": t.name, "title": t.title, "aliases": list(t.aliases)} for t in TOPICS]

    @route("explain_topic")
    async def explain_topic(body: ExplainRequest) -> dict[str, Any]:
        return await run_in_threadpool(lesson, body_options(body))

    explain_openapi = {
        "parameters": [{"name": "filename", "in": "query", "required": False,
                        "schema": {"type": "string"}, "description": "the file's name"}],
        "requestBody": render_openapi["requestBody"],
    }  # fmt: skip

    @route("explain_midi", openapi_extra=explain_openapi)
    async def explain_midi(request: Request, filename: str = "upload.mid") -> dict[str, Any]:
        from audiogen.explain.describe import describe, description_text

        data = await _upload(request)
        score = await run_in_threadpool(_read_upload, data, filename, "auto")
        d = await run_in_threadpool(describe, score)
        return {"description": d.to_dict(), "text": description_text(d, Path(filename).name)}

    @route("list_genres")
    def list_genres() -> list[dict[str, Any]]:
        from audiogen.planner.genres import GENRES

        return [dataclasses.asdict(g) for g in GENRES.values()]

    @route("list_kits")
    def list_kits() -> list[dict[str, Any]]:
        from audiogen.kits import list_kits

        return [
            {"name": k.name, "title": k.title, "description": k.description, "style": k.style,
             "source": k.source, "license": k.license}
            for k in list_kits()
        ]  # fmt: skip

    add_page(app, route, jobs, max_seconds)
    return app


def _handle_errors(app: FastAPI) -> None:
    """Every refusal is ``{"error": one line}`` with a 4xx status, never a traceback."""

    def answer(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(AudiogenError)
    async def refused(request: Request, exc: AudiogenError) -> JSONResponse:
        # A bad option value, kit, MIDI file...: the message the CLI prints.
        status = exc.status if isinstance(exc, HttpError) else 422
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Busy) else None
        return answer(status, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        # What reaches pydantic's checks: a body that is no JSON object, a bad ?wait.
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return answer(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return answer(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return answer(500, f"internal error: {exc!r}")


async def _upload(request: Request) -> bytes:
    """The request body (`guards.BodyLimit` refuses one over the limit as it arrives)."""
    data = await request.body()
    if not data:
        raise RequestError("send the drum MIDI file as the request body")
    return data


def _read_upload(data: bytes, filename: str, note_map: str) -> DrumScore:
    """An uploaded MIDI file as a score, read under its own name (its provenance, and any error,
    name the file, not where the server kept it)."""
    from audiogen.midi import read_midi

    name = Path(filename).name
    if not name or "\0" in name or len(name.encode("utf-8", "replace")) > 200:
        raise RequestError(f"filename {filename!r}: give a file name, such as beat.mid")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return read_midi(path, note_map)
        except MidiError as exc:
            raise MidiError(str(exc).replace(str(path), name)) from None
