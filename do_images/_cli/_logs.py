"""The ``do_images`` logger seen from the command line: ``-v`` lines, and rate-limit waits
shown in the progress line (both escaped, both clearing the progress line first).
"""

from __future__ import annotations

import logging
from typing import Any, TextIO

from ._progress import Progress
from ._text import safe

#: The SDK logs each wait it imposes for a rate limit at INFO with this ``extra`` key.
WAIT_KEY = "rate_limit_wait"


class _RateLimitWaits(logging.Handler):
    """Puts ``waiting 42 s for the rate limit`` in the progress line when the SDK waits."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self._progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        seconds = getattr(record, WAIT_KEY, None)
        if isinstance(seconds, (int, float)):
            self._progress.show(f"waiting {seconds:.0f} s for the rate limit")


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


def install(stream: TextIO, progress: Progress, *, verbose: bool) -> None:
    """Route the SDK's records: waits to the progress line, and everything to `stream` if
    `verbose`. Nothing reaches the root logger (the command owns its stderr)."""
    sdk = logging.getLogger("do_images")
    for handler in list(sdk.handlers):  # main() may run more than once in one process
        if isinstance(handler, (_RateLimitWaits, _Lines)):
            sdk.removeHandler(handler)
    sdk.setLevel(logging.DEBUG if verbose else logging.INFO)
    sdk.propagate = False
    sdk.addHandler(_RateLimitWaits(progress))
    if verbose:
        sdk.addHandler(_Lines(stream, progress))
