"""What a failed command says on stderr, and its exit code.

SDK errors become one escaped line that helps: what was not found, where the token came
from, which scheme and host could not be reached, which flag to use.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import attrs
from yarl import URL

from do_images import (
    ActionFailedError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    DeadlineExceededError,
    DigitalOceanError,
    ImageFailedError,
    NotFoundError,
    WaitTimeoutError,
)

from ._text import safe

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_TIMEOUT = 4
EXIT_FAILED = 5
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141
#: Error class -> exit code; the first match (in this order) wins.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (WaitTimeoutError, EXIT_TIMEOUT),
    (ActionFailedError, EXIT_FAILED),
    (ImageFailedError, EXIT_FAILED),
    (APIError, EXIT_API),
    (APIConnectionError, EXIT_API),
    (DigitalOceanError, EXIT_API),  # e.g. ResponseDecodeError: the API answered nonsense
    (ValueError, EXIT_USAGE),  # the SDK refuses bad arguments before sending anything
    (TypeError, EXIT_USAGE),
)


#: The SDK's parameter names (in its argument errors) and what the command line calls them.
CLI_TERMS = {
    "image_id_or_slug": "ID_OR_SLUG",
    "image_id": "IMAGE_ID",
    "action_id": "ACTION_ID",
    "per_page": "--per-page",
    "tag_name": "--tag",
    "transfer_id": "--transfer-id",
    "recipient_email": "--email",
    "recipient_uuid": "--team-uuid",
    "poll_interval": "--poll-interval",
    "concurrency": "--concurrency",
    "max_retries": "--max-retries",
    "name": "--name",
    "url": "--url",
    "region": "--region",
    "tags": "--tag",
    "distribution": "--distribution",
    "description": "--description",
}
_SDK_NAMES = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, CLI_TERMS)) + r")(?![\w-])")


def in_cli_terms(message: str) -> str:
    """An SDK argument error as the command line says it (``per_page`` -> ``--per-page``)."""
    return _SDK_NAMES.sub(lambda m: CLI_TERMS[m.group(1)], message)


def _raised_by_the_sdk(error: BaseException) -> bool:
    """Whether `error` was raised outside the command line's own code (its messages already
    speak in the command line's terms)."""
    frame, tb = None, error.__traceback__
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
    return frame is not None and "_cli" not in Path(frame.f_code.co_filename).parts


class Failure(Exception):
    """A failure the command has already put into words, with its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def not_found(what: str, error: NotFoundError) -> Failure:
    """``image 12 not found (404, request_id=…)``."""
    ref = f", request_id={error.request_id}" if error.request_id else ""
    return Failure(f"{what} not found ({error.status}{ref})", EXIT_API)


@attrs.frozen
class Setting:
    """What the messages may name about the run: the token's source (never the token),
    the base URL and the per-attempt timeout."""

    token_source: str = "?"
    base_url: URL | None = None
    timeout: float | None = None


def _connection(error: APIConnectionError, setting: Setting) -> str:
    cause, url = error.cause, setting.base_url
    if url is None or isinstance(error, DeadlineExceededError):
        return str(error)
    if isinstance(cause, (TimeoutError, asyncio.TimeoutError)):  # builtin only from 3.11
        return f"{error} (--timeout {setting.timeout:g} s per attempt)"
    if not isinstance(cause, OSError):
        return str(error)
    # aiohttp's own text says "ssl:default" even for plain http: name what was really used.
    errno = cause.errno
    reason = os.strerror(errno) if errno and errno > 0 else cause.strerror or str(cause)
    return f"cannot connect to {url.scheme}://{url.host}:{url.port}: {reason}"


def describe(error: BaseException, setting: Setting) -> tuple[int, str]:
    """The exit code and the (escaped, one-line) message for `error`."""
    if isinstance(error, Failure):
        code, text = error.code, str(error)
    else:
        code = next((c for kind, c in EXIT_CODES if isinstance(error, kind)), EXIT_INTERNAL)
        text = str(error) or type(error).__name__
        if isinstance(error, AuthenticationError):
            text += f" (the token came from {setting.token_source}: is it valid and unexpired?)"
        elif isinstance(error, APIConnectionError):
            text = _connection(error, setting)
        elif isinstance(error, (ValueError, TypeError)):
            text = text.replace("pass allow_insecure_http=True", "pass --allow-insecure-http")
            text = in_cli_terms(text) if _raised_by_the_sdk(error) else text
        elif code == EXIT_INTERNAL:
            text = f"{type(error).__name__}: {text}"
    return code, safe(text)
