"""The ``do_images`` logger seen from the command line: ``-v`` lines, the SDK's decisions
(rate-limit waits in the progress line, retries announced through the Tracer), all escaped.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, TextIO

from ._progress import Progress
from ._text import safe
from ._trace import Tracer

#: The SDK logs each wait it imposes for a rate limit at INFO with this ``extra`` key.
WAIT_KEY = "rate_limit_wait"
#: ...and each retry it decides on at DEBUG, with these arguments: "GET /v2/images" (or the
#: method and the path apart, as 0.2's transport logged them), the delay, the reason, the
#: retry's number and the most retries.
RETRY_MESSAGES = (
    "retrying %s in %.2fs after %s (retry %d of %d)",
    "retrying %s %s in %.2fs after %s (retry %d of %d)",
)


def retry_of(record: logging.LogRecord) -> tuple[str, str, float, int, int] | None:
    """``(method, path, delay, retry, retries)`` of an SDK retry record, else None."""
    args = record.args
    if record.msg not in RETRY_MESSAGES or not isinstance(args, tuple) or len(args) not in (5, 6):
        return None
    *where, delay, _, retry, retries = args
    method, _, path = " ".join(map(str, where)).partition(" ")
    if path and isinstance(delay, (int, float)) and isinstance(retry, int) and isinstance(
            retries, int):  # fmt: skip
        return method, path, float(delay), retry, retries
    return None


class _Decisions(logging.Handler):
    """The SDK's decisions as they happen: a wait for the rate limit in the progress line (and
    a trace line), a retry announced on stderr."""

    def __init__(self, progress: Progress, tracer: Tracer) -> None:
        super().__init__(logging.DEBUG)
        self._progress = progress
        self._tracer = tracer

    def emit(self, record: logging.LogRecord) -> None:
        # A handler runs inside the SDK's call: whatever goes wrong here (stderr closed) is
        # logging's to report, never an exception in the middle of a request.
        try:
            seconds = getattr(record, WAIT_KEY, None)
            if isinstance(seconds, (int, float)):
                self._progress.show(f"waiting {seconds:.0f} s for the rate limit")
                self._tracer.waiting(seconds)
                return
            retry = retry_of(record)
            if retry is not None:
                self._tracer.retrying(*retry)
        except Exception:
            self.handleError(record)


class _Escaped(logging.Formatter):
    """Escapes the message and each traceback line (API text can be in either)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return safe(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return "\n".join(map(safe, super().formatException(ei).splitlines()))


class _Lines(logging.Handler):
    """``-v``: every record as one escaped line on `stream`."""

    def __init__(self, stream: TextIO, progress: Progress) -> None:
        super().__init__(logging.DEBUG)
        self._stream = stream
        self._progress = progress
        self.setFormatter(_Escaped("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            self._progress.clear()
            self._stream.write(line + "\n")
            self._stream.flush()
        except Exception:
            self.handleError(record)


@contextmanager
def installed(
    stream: TextIO, progress: Progress, tracer: Tracer, *, verbose: bool
) -> Generator[None, None, None]:
    """Route the SDK's records while a command runs: decisions to the progress line and
    `tracer`, and everything to `stream` if `verbose`. Nothing reaches the root logger (the
    command owns its stderr); the logger is left as it was found afterwards (main() may run
    more than once in one process)."""
    sdk = logging.getLogger("do_images")
    level, propagate = sdk.level, sdk.propagate
    handlers: list[logging.Handler] = [_Decisions(progress, tracer)]
    if verbose:
        handlers.append(_Lines(stream, progress))
    sdk.setLevel(logging.DEBUG)  # retries are DEBUG records
    sdk.propagate = False
    for handler in handlers:
        sdk.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            sdk.removeHandler(handler)
        sdk.setLevel(level)
        sdk.propagate = propagate
