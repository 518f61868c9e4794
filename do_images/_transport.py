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
from contextvars import ContextVar
from typing import Any

import aiohttp
import attrs
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from ._errors import (
    APIConnectionError,
    DeadlineExceededError,
    DigitalOceanError,
    RateLimitError,
    ResponseDecodeError,
    error_from_response,
    reset_time,
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


_UNPARSED: Any = object()


class Response:
    """A fully read 2xx answer. `data` parses the JSON body on first use (None when empty), so
    pages fetched ahead wait as compact bytes rather than as thousands of live objects."""

    __slots__ = ("_data", "_where", "body", "headers", "status")

    def __init__(self, status: int, headers: CIMultiDictProxy[str], body: bytes, where: str):
        self.status = status
        self.headers = headers
        self.body = body
        self._where = where
        self._data = _UNPARSED

    @property
    def data(self) -> Any:
        if self._data is _UNPARSED:
            try:
                self._data = orjson.loads(self.body) if self.body else None
            except orjson.JSONDecodeError:
                raise ResponseDecodeError(
                    f"{self._where}: the body is not JSON", status=self.status, body=self.body
                ) from None
        return self._data


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
    reset_at = reset_time(headers)
    if limit is None and remaining is None and reset_at is None:
        return None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset_at)


@attrs.frozen
class Settings:
    """Per-call options; `Client.with_options` derives a transport with other ones."""

    timeout: float
    connect_timeout: float | None
    max_retries: int
    max_rate_limit_wait: float


@attrs.define(eq=False)
class _Shared:
    """What every transport derived from one client shares: session, governor, figures."""

    base_url: URL
    headers: dict[str, str] = attrs.field(repr=False)
    session: aiohttp.ClientSession | None
    owns_session: bool
    governor: Governor
    sleep: Callable[[float], Awaitable[object]]
    clock: Callable[[], float]
    jitter: Callable[[], float]
    rate_limit: RateLimit | None = None
    closed: bool = False


# The caller's overall deadline (epoch seconds on the client's clock), set by Client.deadline;
# a context variable so that it follows the call into prefetch tasks.
DEADLINE: ContextVar[float | None] = ContextVar("do_images_deadline", default=None)


class Transport:
    """Sends requests for one client; owns its aiohttp session unless one was given."""

    def __init__(
        self,
        *,
        token: str,
        base_url: URL,
        settings: Settings,
        session: aiohttp.ClientSession | None,
        rate_limits: Sequence[tuple[int, float]],
        sleep: Callable[[float], Awaitable[object]],
        clock: Callable[[], float],
        jitter: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._shared = _Shared(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            session=session,
            owns_session=session is None,
            governor=Governor(rate_limits, clock=clock, sleep=sleep),
            sleep=sleep,
            clock=clock,
            jitter=jitter,
        )

    def __repr__(self) -> str:
        return f"<Transport {self._shared.base_url}>"

    def derive(self, settings: Settings) -> Transport:
        """A transport with other settings sharing this one's session, governor and figures."""
        derived = object.__new__(Transport)
        derived._settings = settings
        derived._shared = self._shared
        return derived

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def rate_limit(self) -> RateLimit | None:
        return self._shared.rate_limit

    @property
    def sleep(self) -> Callable[[float], Awaitable[object]]:
        return self._shared.sleep

    @property
    def clock(self) -> Callable[[], float]:
        return self._shared.clock

    def remaining(self) -> float | None:
        """Seconds left before the caller's deadline (None when there is none)."""
        deadline = DEADLINE.get()
        return None if deadline is None else deadline - self._shared.clock()

    async def close(self) -> None:
        shared = self._shared
        shared.closed = True
        if shared.owns_session and shared.session is not None:
            await shared.session.close()
        shared.session = None

    def _open_session(self) -> aiohttp.ClientSession:
        shared = self._shared
        if shared.closed:
            raise RuntimeError("the client is closed")
        if shared.session is None:
            shared.session = aiohttp.ClientSession()
        return shared.session

    async def request(
        self,
        method: str,
        *segments: str | int,
        params: Params | None = None,
        json: Any = None,
    ) -> Response:
        """Send one API call (with retries) and return its 2xx answer, or raise."""
        shared, settings = self._shared, self._settings
        url = shared.base_url.joinpath(*(str(segment) for segment in segments))
        body = None if json is None else orjson.dumps(json)
        attempt = 0
        while True:
            await shared.governor.acquire(self.remaining())
            outcome = await self._attempt(method, url, params, body, attempt + 1)
            if isinstance(outcome, Response):
                return outcome
            attempt += 1
            delay = None
            if attempt <= settings.max_retries:
                delay = retry_delay(
                    outcome, attempt, method, now=shared.clock(), jitter=shared.jitter()
                )
            remaining = self.remaining()
            if (
                delay is None
                or (isinstance(outcome, RateLimitError) and delay > settings.max_rate_limit_wait)
                or (remaining is not None and delay >= remaining)
            ):
                raise outcome
            logger.debug(
                "retrying %s %s in %.2fs after %s (retry %d of %d)",
                method, url.path, delay, _short(outcome), attempt, settings.max_retries,
            )  # fmt: skip
            if isinstance(outcome, RateLimitError):
                # Every request of this client waits, not only this one.
                shared.governor.pause_until(shared.clock() + delay)
            else:
                await shared.sleep(delay)

    def _timeout(self) -> aiohttp.ClientTimeout:
        total = self._settings.timeout
        remaining = self.remaining()
        if remaining is not None:
            if remaining <= 0:
                raise DeadlineExceededError("the deadline passed before the request was sent")
            total = min(total, remaining)
        return aiohttp.ClientTimeout(total=total, sock_connect=self._settings.connect_timeout)

    async def _attempt(
        self, method: str, url: URL, params: Params | None, body: bytes | None, attempt: int
    ) -> Response | DigitalOceanError:
        """One HTTP exchange: the answer, or the error to retry or raise."""
        session = self._open_session()
        headers = self._shared.headers
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
                timeout=self._timeout(),
                allow_redirects=False,
            ) as answer:
                status, answer_headers = answer.status, answer.headers
                content = await answer.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.debug(
                "%s %s failed: %s (attempt %d)", method, url.path, type(exc).__name__, attempt
            )
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                return DeadlineExceededError(f"{method} {url.path}: the deadline passed")
            return _connection_error(exc, method, url)
        logger.debug("%s %s -> %d (attempt %d)", method, url.path, status, attempt)
        limits = rate_limit_from(answer_headers)
        if limits is not None:
            self._shared.rate_limit = limits
            if limits.remaining == 0 and limits.reset_at is not None:
                self._shared.governor.pause_until(limits.reset_at.timestamp())
        if not 200 <= status < 300:
            return error_from_response(status, answer_headers, content)
        return Response(status, answer_headers, content, f"{method} {url.path}")


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
