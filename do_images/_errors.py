"""The error tree, and the pure mapping from an HTTP answer to an error.

DigitalOceanError
 ├── APIError                      any non-2xx answer (status, id, message, request_id)
 │    ├── AuthenticationError      401
 │    ├── NotFoundError            404
 │    ├── UnprocessableEntityError 422
 │    ├── RateLimitError           429 after retries (reset_at too)
 │    └── ServerError              5xx after retries
 ├── APIConnectionError            network failure or timeout after retries
 ├── ResponseDecodeError           a body that is not the JSON the spec promises
 ├── ActionFailedError             image_actions.wait saw "errored"
 ├── ImageFailedError              images.wait saw the import fail
 └── WaitTimeoutError              a wait ran past its timeout
      └── ActionTimeoutError       ... in image_actions.wait
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Action, Image

EXCERPT_CHARS = 200


def excerpt(body: bytes) -> str:
    """A short, printable start of a body, for error messages."""
    text = body[:EXCERPT_CHARS].decode("utf-8", "replace")
    return text + ("…" if len(body) > EXCERPT_CHARS else "")


class DigitalOceanError(Exception):
    """Base of every error the SDK raises on purpose."""


class APIError(DigitalOceanError):
    """The API answered with a non-2xx status."""

    def __init__(
        self, status: int, id: str | None, message: str, request_id: str | None = None
    ) -> None:
        self.status = status
        self.id = id
        self.message = message
        self.request_id = request_id
        text = f"{status} {id or 'error'}: {message}"
        if request_id:
            text += f" (request_id={request_id})"
        super().__init__(text)


class AuthenticationError(APIError):
    """401: the token is missing, invalid or lacks the scope."""


class NotFoundError(APIError):
    """404: no such image, action or transfer (or it belongs to another account)."""


class UnprocessableEntityError(APIError):
    """422: the API refused the request's content."""


class RateLimitError(APIError):
    """429 after the retries were spent (or the wait would pass the cap)."""

    def __init__(
        self,
        status: int,
        id: str | None,
        message: str,
        request_id: str | None = None,
        reset_at: datetime | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, id, message, request_id)
        self.reset_at = reset_at
        self.retry_after = retry_after
        """Seconds the API asked to wait (`retry-after`, sent on the per-minute limit)."""


class ServerError(APIError):
    """5xx after the retries were spent (including a proxy's HTML error page)."""


class APIConnectionError(DigitalOceanError):
    """The request never got an answer: connection failure or timeout, after retries."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class DeadlineExceededError(APIConnectionError):
    """The caller's deadline (`Client.deadline`) passed before the API answered."""


class ResponseDecodeError(DigitalOceanError):
    """A 2xx body that is not the JSON the spec promises."""

    def __init__(self, message: str, *, status: int | None = None, body: bytes = b"") -> None:
        self.status = status
        self.excerpt = excerpt(body)
        text = message if status is None else f"{message} (HTTP {status})"
        if body:
            text += f"; body starts: {self.excerpt!r}"
        super().__init__(text)


class ActionFailedError(DigitalOceanError):
    """An image action ended "errored"."""

    def __init__(self, action: Action) -> None:
        self.action = action
        super().__init__(f"action {action.id} ({action.type}) errored")


class ImageFailedError(DigitalOceanError):
    """A custom image import failed; `image.error_message` says why."""

    def __init__(self, image: Image) -> None:
        self.image = image
        reason = (image.error_message or "").strip() or f"status {image.status}"
        super().__init__(f"image {image.id} import failed: {reason}")


class WaitTimeoutError(DigitalOceanError):
    """A wait ran past its timeout; `last` is the last object seen."""

    def __init__(self, message: str, last: Any) -> None:
        self.last = last
        super().__init__(message)


class ActionTimeoutError(WaitTimeoutError):
    """image_actions.wait ran past its timeout; `action` is the last Action seen."""

    @property
    def action(self) -> Action:
        return self.last  # type: ignore[no-any-return]


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def reset_time(headers: Mapping[str, str]) -> datetime | None:
    """When the API says requests free up: `ratelimit-reset` (epoch seconds), if sane."""
    value = headers.get("ratelimit-reset")
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The `retry-after` header in seconds, if it is a sane number."""
    try:
        seconds = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The error for a non-2xx answer; never fails, whatever the body holds."""
    from ._convert import decode_error_fields  # here: _convert imports this module

    fields = decode_error_fields(body)
    error_id = fields.get("id")
    message = fields.get("message")
    request_id = fields.get("request_id") or headers.get("x-request-id")
    error_id = error_id if isinstance(error_id, str) else None
    if not isinstance(message, str):
        # Not DigitalOcean's JSON error shape (e.g. a proxy's HTML page): say what came.
        message = f"unexpected answer: {excerpt(body)!r}" if body else "no error body"
    request_id = request_id if isinstance(request_id, str) else None
    if status == 429:
        return RateLimitError(
            status, error_id, message, request_id, reset_time(headers), retry_after(headers)
        )
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    return cls(status, error_id, message, request_id)
