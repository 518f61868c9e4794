"""The only code that touches aiohttp: URL, headers, timeout, retries, rate limits, sleep.

One call of `Transport.request` is one logical API call: it waits for the governor, sends,
reads the whole body inside `async with` (so an abandoned call never strands a connection),
maps non-2xx answers to errors and retries them as `_retry.retry_delay` decides.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import aiohttp
import attrs
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from ._errors import (
    APIConnectionError,
    DigitalOceanError,
    RateLimitError,
    ResponseDecodeError,
    error_from_response,
)
from ._governor import Governor
from ._models import RateLimit
from ._retry import retry_delay
from ._version import __version__

logger = logging.getLogger("do_images")

USER_AGENT = (
    f"do-images/{__version__} aiohttp/{aiohttp.__version__} Python/{platform.python_version()}"
)
Params = Mapping[str, str | int]


@attrs.frozen
class Response:
    """A fully read 2xx answer: `data` is the parsed JSON, or None for an empty body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    data: Any


def present(**values: Any) -> dict[str, Any]:
    """The given values without the None ones (optional JSON fields and parameters)."""
    return {key: value for key, value in values.items() if value is not None}


def query(**values: str | int | bool | None) -> dict[str, str | int]:
    """Query parameters without the None ones; booleans as "true"/"false" (yarl rejects bools)."""
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else value
        for key, value in present(**values).items()
    }


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def rate_limit_from(headers: Mapping[str, str]) -> RateLimit | None:
    """The `ratelimit-*` headers as a RateLimit, or None when the answer has none."""
    limit = _header_int(headers, "ratelimit-limit")
    remaining = _header_int(headers, "ratelimit-remaining")
    reset = _header_int(headers, "ratelimit-reset")
    if limit is None and remaining is None and reset is None:
        return None
    try:
        reset_at = None if reset is None else datetime.fromtimestamp(reset, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        reset_at = None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset_at)


class Transport:
    """Sends requests for one client; owns its aiohttp session unless one was given."""

    def __init__(
        self,
        *,
        token: str,
        base_url: URL,
        timeout: float,
        max_retries: int,
        session: aiohttp.ClientSession | None,
        rate_limits: Sequence[tuple[int, float]],
        max_rate_limit_wait: float,
        sleep: Callable[[float], Awaitable[object]],
        clock: Callable[[], float],
        jitter: Callable[[], float],
    ) -> None:
        self._base_url = base_url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max_retries
        self._session = session
        self._owns_session = session is None
        self._max_rate_limit_wait = max_rate_limit_wait
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._governor = Governor(rate_limits, clock=clock, sleep=sleep)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self.rate_limit: RateLimit | None = None

    def __repr__(self) -> str:
        return f"<Transport {self._base_url}>"

    @property
    def sleep(self) -> Callable[[float], Awaitable[object]]:
        return self._sleep

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if not self._owns_session:
                raise RuntimeError("the client is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def request(
        self,
        method: str,
        *segments: str | int,
        params: Params | None = None,
        json: Any = None,
    ) -> Response:
        """Send one API call (with retries) and return its 2xx answer, or raise."""
        url = self._base_url.joinpath(*(str(segment) for segment in segments))
        body = None if json is None else orjson.dumps(json)
        attempt = 0
        while True:
            await self._governor.acquire()
            error = await self._attempt(method, url, params, body)
            if isinstance(error, Response):
                return error
            attempt += 1
            delay = None
            if attempt <= self._max_retries:
                delay = retry_delay(
                    error, attempt, method, now=self._clock(), jitter=self._jitter()
                )
            if delay is None or (
                isinstance(error, RateLimitError) and delay > self._max_rate_limit_wait
            ):
                raise error
            logger.debug(
                "retrying %s %s in %.2fs after %s (retry %d of %d)",
                method, url.path, delay, _short(error), attempt, self._max_retries,
            )  # fmt: skip
            if isinstance(error, RateLimitError):
                # Every request of this client waits, not only this one.
                self._governor.pause_until(self._clock() + delay)
            else:
                await self._sleep(delay)

    async def _attempt(
        self, method: str, url: URL, params: Params | None, body: bytes | None
    ) -> Response | DigitalOceanError:
        """One HTTP exchange: the answer, or the error to retry or raise."""
        session = self._open_session()
        headers = self._headers
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        try:
            # Redirects are not followed: the API never redirects, and following one could
            # carry the bearer token to another host.
            async with session.request(
                method,
                url,
                params=params,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as answer:
                status, answer_headers = answer.status, answer.headers
                content = await answer.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.debug("%s %s failed: %s", method, url.path, type(exc).__name__)
            return _connection_error(exc, method, url)
        logger.debug("%s %s -> %d", method, url.path, status)
        limits = rate_limit_from(answer_headers)
        if limits is not None:
            self.rate_limit = limits
            if limits.remaining == 0 and limits.reset_at is not None:
                self._governor.pause_until(limits.reset_at.timestamp())
        if not 200 <= status < 300:
            return error_from_response(status, answer_headers, content)
        try:
            data = orjson.loads(content) if content else None
        except orjson.JSONDecodeError:
            raise ResponseDecodeError(
                f"{method} {url.path}: the body is not JSON", status=status, body=content
            ) from None
        return Response(status, answer_headers, content, data)


def _short(error: DigitalOceanError) -> str:
    return str(getattr(error, "status", "")) or type(error).__name__


def _connection_error(exc: BaseException, method: str, url: URL) -> APIConnectionError:
    if isinstance(exc, asyncio.TimeoutError):
        message = f"{method} {url.path} timed out"
    else:
        message = f"{method} {url.path} failed: {type(exc).__name__}: {exc}"
    # aiohttp's ClientResponseError carries the request headers (the token) in its repr.
    cause = None if isinstance(exc, aiohttp.ClientResponseError) else exc
    return APIConnectionError(message, cause)


def default_jitter() -> float:
    return random.random()


def default_clock() -> float:
    return time.time()
