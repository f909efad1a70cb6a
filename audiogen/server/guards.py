"""What keeps a server up and to itself: a cap on every request body (declared or not), the
bearer token, CORS for the origins the operator names (none by default), and one server per
output folder."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NextHandler = Callable[[Request], Awaitable[Response]]
TOO_LARGE = 413
PAGE_PATHS = ("/", "/static/")  # the page's own files: shipped with the package, no beat in them


def too_large(limit: int) -> str:
    return f"the request body is over {limit} bytes: send a smaller one"


class BodyLimit:
    """Refuse (413) a body over ``limit`` bytes: one declared larger before a byte is read, one
    sent without a length (chunked) as soon as the bytes counted pass it, so no route ever
    holds more than ``limit`` bytes of a body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"error": too_large(self.limit)}, TOO_LARGE)(scope, receive, send)
            return
        counted = 0

        async def counting() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > self.limit:
                    # an HTTPException: FastAPI passes it on as it is (another error reading
                    # a body becomes a 400), and the app's handler answers it in one line
                    raise HTTPException(TOO_LARGE, too_large(self.limit))
            return message

        await self.app(scope, counting, send)


def require_token(app: FastAPI, token: str) -> None:
    """Every API request must carry ``Authorization: Bearer <token>`` (compared in constant
    time); the page's own files need none, so a browser can open the page and be asked for it."""
    expected = f"Bearer {token}".encode()

    @app.middleware("http")
    async def check(request: Request, call_next: NextHandler) -> Response:
        path = request.url.path
        page = path == PAGE_PATHS[0] or path.startswith(PAGE_PATHS[1])
        given = request.headers.get("authorization", "").encode()
        if not page and not secrets.compare_digest(given, expected):
            return JSONResponse(
                {"error": "this server needs its token: send Authorization: Bearer <token>"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        return await call_next(request)


def allow_origins(app: FastAPI, origins: Iterable[str]) -> None:
    """Let pages from ``origins`` (and only those) call the API from a browser. Added last, so
    it answers a browser's preflight before the token is asked for (a preflight carries none)."""
    from fastapi.middleware.cors import CORSMiddleware

    app.add_middleware(
        CORSMiddleware, allow_origins=list(origins), allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type"], expose_headers=["Location", "Retry-After"],
    )  # fmt: skip
