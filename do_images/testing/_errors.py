"""DigitalOcean-shaped errors: the exception handlers raise and the body every error answer has."""

from __future__ import annotations

from ._vocab import ERROR_IDS, ERROR_MESSAGES


class ApiError(Exception):
    """An error answer: HTTP ``status``, DO error ``id`` and human ``message``."""

    def __init__(self, status: int, message: str | None = None, *, error_id: str | None = None):
        self.status = status
        self.error_id = error_id or ERROR_IDS.get(status, "error")
        self.message = message or ERROR_MESSAGES.get(status, "Unexpected error.")
        super().__init__(f"{self.status} {self.error_id}: {self.message}")


def not_found() -> ApiError:
    """The 404 DigitalOcean answers for anything the caller cannot see."""
    return ApiError(404)


def unprocessable(message: str) -> ApiError:
    """A 422 naming what is wrong with the request."""
    return ApiError(422, message)


def bad_request(message: str = "error parsing request body") -> ApiError:
    """A 400; by default the one DigitalOcean sends for a body it cannot parse."""
    return ApiError(400, message)


def error_body(
    status: int, message: str | None, request_id: str, error_id: str | None = None
) -> dict[str, str]:
    """The JSON error object: ``{"id", "message", "request_id"}``."""
    err = ApiError(status, message, error_id=error_id)
    return {"id": err.error_id, "message": err.message, "request_id": request_id}
