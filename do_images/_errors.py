"""The error tree, and the pure mapping from an HTTP answer to an error.

DigitalOceanError                  base of every error the SDK raises on purpose
 ├── ClientClosedError             a call on a closed client, or in flight when it closed
 ├── APIError                      any non-2xx answer (status, id, message, request_id)
 │    ├── AuthenticationError      401
 │    ├── NotFoundError            404
 │    ├── UnprocessableEntityError 422
 │    ├── RateLimitError           429 after retries, or a longer wait than allowed
 │    │                            (retry_after, reset_at)
 │    └── ServerError              5xx after retries
 ├── APIConnectionError            network failure or timeout after retries (__cause__)
 │    └── DeadlineExceededError    the caller's Client.deadline passed
 ├── ResponseDecodeError           a body that is not the JSON the spec promises (status, excerpt)
 ├── ActionFailedError             image_actions.wait saw "errored" (action)
 ├── ImageFailedError              images.wait saw the import fail (image)
 └── WaitTimeoutError              a wait ran past its timeout (last)
      └── ActionTimeoutError       ... in image_actions.wait (action)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from ._headers import moment, reset_in, retry_after

if TYPE_CHECKING:
    from ._models import Action, Image

EXCERPT_CHARS = 200
# Server text kept in an error (a message, an id) is cut to this many characters.
SERVER_TEXT_CHARS = 500

# C0, DEL and C1 controls, the line and paragraph separators, and the bidirectional marks and
# overrides that can make text read backwards: shown as visible escapes so server text can
# neither move a terminal's cursor nor split a log line. (The CLI's `_cli/_text.py` escapes the
# same set; it may use only the public SDK, so it keeps its own copy.)
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029,
             *range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # fmt: skip
_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROLS}


def printable(text: str, limit: int = SERVER_TEXT_CHARS) -> str:
    """Server text made safe to print: control characters escaped, cut to `limit` characters."""
    escaped = text[:limit].translate(_ESCAPES)
    return escaped[:limit] + ("…" if len(text) > limit or len(escaped) > limit else "")


def excerpt(body: bytes) -> str:
    """A short, printable start of a body, for error messages."""
    return printable(body[: EXCERPT_CHARS * 4].decode("utf-8", "replace"), EXCERPT_CHARS)


class DigitalOceanError(Exception):
    """Base of every error the SDK raises on purpose."""


class ClientClosedError(DigitalOceanError):
    """The client was closed before (or while) the call ran; it is never retried."""


class APIError(DigitalOceanError):
    """The API answered with a non-2xx status.

    `id`, `message` and `request_id` are the server's words, with control characters escaped
    and each cut to SERVER_TEXT_CHARS, so printing an error is always safe.
    """

    status: int
    id: str | None
    message: str
    request_id: str | None

    def __init__(
        self, status: int, id: str | None, message: str, request_id: str | None = None
    ) -> None:
        self.status = status
        """The HTTP status (429 also for a wait the client refused to make, see RateLimitError)."""
        self.id = None if id is None else printable(id, 100)
        """DigitalOcean's error id, such as ``"not_found"``."""
        self.message = printable(message)
        """The server's message (escaped, bounded)."""
        self.request_id = None if request_id is None else printable(request_id, 100)
        """The API's request id, to quote to DigitalOcean support."""
        text = f"{status} {self.id or 'error'}: {self.message}"
        if self.request_id:
            text += f" (request_id={self.request_id})"
        super().__init__(text)


class AuthenticationError(APIError):
    """401: the token is missing, invalid or lacks the scope."""


class NotFoundError(APIError):
    """404: no such image, action or transfer (or it belongs to another account)."""


class UnprocessableEntityError(APIError):
    """422: the API refused the request's content."""


class RateLimitError(APIError):
    """429 after the retries were spent, or a wait longer than `max_rate_limit_wait`.

    The second kind is raised before sending anything, when the API's pause or the client's
    own windows would hold the request longer than allowed; `request_id` is then None.
    Both times are clamped to `do_images._windows.MAX_PAUSE` (an hour) from the answer.
    """

    retry_after: float | None
    reset_at: datetime | None

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
        """When a request may go again (local time), as far as the API or the client's
        windows said."""
        self.retry_after = retry_after
        """Seconds to wait before trying again: the API's `retry-after` (seconds, or an HTTP
        date measured on the server's clock), or the client's own wait when it refused to
        send; None when neither said."""


class ServerError(APIError):
    """5xx after the retries were spent (including a proxy's HTML error page)."""


class APIConnectionError(DigitalOceanError):
    """The request never got an answer: connection failure or timeout, after retries."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.__cause__ = cause

    @property
    def cause(self) -> BaseException | None:
        """What failed underneath (never an aiohttp error whose repr holds the token)."""
        return self.__cause__


class DeadlineExceededError(APIConnectionError):
    """The caller's deadline (`Client.deadline`) passed before the API answered."""


class ResponseDecodeError(DigitalOceanError):
    """A 2xx body that is not the JSON the spec promises."""

    status: int | None
    excerpt: str

    def __init__(self, message: str, *, status: int | None = None, body: bytes = b"") -> None:
        self.status = status
        """The answer's HTTP status (None when no answer was involved)."""
        self.excerpt = excerpt(body)
        """The start of the body, escaped and bounded."""
        text = message if status is None else f"{message} (HTTP {status})"
        if body:
            text += f"; body starts: '{self.excerpt}'"
        super().__init__(text)


class ActionFailedError(DigitalOceanError):
    """An image action ended "errored"."""

    action: Action

    def __init__(self, action: Action) -> None:
        self.action = action
        """The errored action."""
        super().__init__(f"action {action.id} ({printable(str(action.type), 40)}) errored")


class ImageFailedError(DigitalOceanError):
    """A custom image import failed; `image.error_message` says why."""

    image: Image

    def __init__(self, image: Image) -> None:
        self.image = image
        """The failed image."""
        reason = (image.error_message or "").strip() or f"status {image.status}"
        super().__init__(f"image {image.id} import failed: {printable(reason)}")


class WaitTimeoutError(DigitalOceanError):
    """A wait ran past its timeout; `last` is the last object seen."""

    last: Image | Action | None

    def __init__(self, message: str, last: Image | Action | None) -> None:
        self.last = last
        """The last image or action seen (None when no poll was answered in time)."""
        super().__init__(message)


class ActionTimeoutError(WaitTimeoutError):
    """image_actions.wait ran past its timeout; `action` is the last Action seen."""

    @property
    def action(self) -> Action | None:
        """The last Action seen (None when no poll was answered in time)."""
        from ._models import Action

        return self.last if isinstance(self.last, Action) else None


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    fields: Mapping[str, object],
    body: bytes,
    *,
    wall: float,
) -> APIError:
    """The error for a non-2xx answer, from its status, headers and the JSON object its body
    held (`fields`, empty when it held none); never fails, whatever the body holds.
    `wall` is the local wall clock (epoch seconds), for when only it can place a time."""
    error_id = fields.get("id")
    message = fields.get("message")
    request_id = fields.get("request_id") or headers.get("x-request-id")
    error_id = error_id if isinstance(error_id, str) else None
    if not isinstance(message, str):
        # Not DigitalOcean's JSON error shape (e.g. a proxy's HTML page): say what came.
        message = f"unexpected answer: '{excerpt(body)}'" if body else "no error body"
    request_id = request_id if isinstance(request_id, str) else None
    if status == 429:
        reset = reset_in(headers, wall)
        reset_at = None if reset is None else moment(wall, reset)
        return RateLimitError(
            status, error_id, message, request_id, reset_at, retry_after(headers, wall)
        )
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    return cls(status, error_id, message, request_id)
