"""What a command says about HTTP while it runs: ``--trace`` (a line per attempt, a line per
decision) and retries announced as the SDK decides them (always, trace or not).

Attempts are seen through an aiohttp ``TraceConfig`` on the session the command gives the
client; decisions through the SDK's log records. Neither ever sees or shows the token.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import TextIO

import aiohttp
from yarl import URL

from ._progress import Progress
from ._text import safe

PREFIX = "trace: "


def _reason(error: BaseException) -> str:
    """A failed attempt in a few words: ``connection refused``, ``timed out``, ..."""
    if isinstance(error, aiohttp.ClientConnectorError):
        errno = error.os_error.errno
        text = os.strerror(errno) if errno else type(error.os_error).__name__
        return text[:1].lower() + text[1:]
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    return type(error).__name__


def _where(method: str, url: URL) -> str:
    return f"{method} {url.path_qs}"


class Tracer:
    """Writes trace lines and retry announcements to `stream` (clearing `progress` first)."""

    def __init__(
        self,
        stream: TextIO,
        progress: Progress,
        *,
        trace: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._progress = progress
        self.trace = trace
        self._clock = clock
        self._last: dict[tuple[str, str], str] = {}  # (method, path) -> the last failure

    def _line(self, text: str) -> None:
        self._progress.clear()
        self._stream.write(safe(text) + "\n")
        self._stream.flush()

    def config(self) -> aiohttp.TraceConfig:
        """The TraceConfig to give the session: it reports every attempt here."""
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._started)
        config.on_request_end.append(self._ended)
        config.on_request_exception.append(self._failed)
        return config

    async def _started(
        self, _: aiohttp.ClientSession, ctx: SimpleNamespace, __: aiohttp.TraceRequestStartParams
    ) -> None:
        ctx.started = self._clock()

    def _took(self, ctx: SimpleNamespace) -> str:
        started: float = getattr(ctx, "started", self._clock())
        return f"{(self._clock() - started) * 1000:.0f} ms"

    async def _ended(
        self, _: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        status = params.response.status
        if status >= 400:
            self._last[(params.method, params.url.path)] = str(status)
        if self.trace:
            self._line(f"{PREFIX}{_where(params.method, params.url)} {status} {self._took(ctx)}")

    async def _failed(
        self,
        _: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        reason = _reason(params.exception)
        self._last[(params.method, params.url.path)] = reason
        if self.trace:
            where = _where(params.method, params.url)
            self._line(f"{PREFIX}{where} {reason} after {self._took(ctx)}")

    def retrying(self, method: str, path: str, delay: float, retry: int, retries: int) -> None:
        """The SDK decided to try `method path` again in `delay` seconds: say so now."""
        why = self._last.get((method, path), "failed")
        if why == "429":
            why = "429 rate limited"
        text = f"{method} {path}: {why}; retry {retry}/{retries} in {delay:.1f} s"
        self._line(PREFIX + text if self.trace else f"do-images: {text}")

    def waiting(self, seconds: float) -> None:
        """The SDK holds requests back for the rate limit (shown as a line only when tracing:
        the progress line shows it on a terminal anyway)."""
        if self.trace:
            self._line(f"{PREFIX}waiting {seconds:.1f} s for the rate limit")
