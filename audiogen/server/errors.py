"""What the server refuses beyond a bad option value (which is 422, as every `AudiogenError`):
each carries its HTTP status, and its message is the one line the client reads."""

from __future__ import annotations

from audiogen.errors import AudiogenError


class HttpError(AudiogenError):
    """A refusal answered with ``status`` and the message as ``{"error": ...}``."""

    status = 400


class NotFound(HttpError):
    status = 404


class NotFinished(HttpError):
    """An operation that needs a finished beat, asked of one still queued or running."""

    status = 409


class Busy(HttpError):
    """The job queue is full; the client may try again after ``retry_after_s``."""

    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
