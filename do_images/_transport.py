"""The only code that touches aiohttp: URL, headers, timeout, retries, rate limits, sleep.

One call of `Transport.request` is one logical API call: it waits for the rate limiter,
sends, reads the whole body (bounded) inside `async with` (so an abandoned call never strands
a connection), maps non-2xx answers to errors and retries them as `_retry.retry_delay` decides.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import platform
import random
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

import aiohttp
import attrs
import msgspec
from yarl import URL

from ._convert import decode_error_fields
from ._errors import (
    APIConnectionError,
    ClientClosedError,
    DeadlineExceededError,
    DigitalOceanError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    error_from_response,
)
from ._governor import RateLimiter
from ._headers import rate_limit_from
from ._models import RateLimit
from ._retry import retry_delay
from ._version import __version__

logger = logging.getLogger("do_images")

USER_AGENT = (
    f"do-images/{__version__} aiohttp/{aiohttp.__version__} Python/{platform.python_version()}"
)
Params = Mapping[str, str | int]


class Response:
    """A fully read 2xx answer: its status and body bytes. Pages fetched ahead wait as these
    compact bytes and are decoded only when their turn comes."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes):
        self.status = status
        self.body = body


@attrs.frozen
class Settings:
    """Per-call options; `Client.with_options` derives a transport with other ones."""

    timeout: float
    connect_timeout: float | None
    max_retries: int
    max_rate_limit_wait: float


@attrs.define(eq=False)
class _Shared:
    """What every transport derived from one client shares: session, limiter, figures."""

    base_url: URL
    headers: dict[str, str] = attrs.field(repr=False)
    limiter_key: str = attrs.field(repr=False)
    session: aiohttp.ClientSession | None
    owns_session: bool
    trust_env: bool
    limiter: RateLimiter
    max_response_bytes: int
    sleep: Callable[[float], Awaitable[object]]
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    jitter: Callable[[], float]
    rate_limit: RateLimit | None = None
    closed: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    calls: set[asyncio.Task[Any]] = attrs.field(factory=set)
    """The tasks inside `request`, which `close` stops with ClientClosedError."""


# The message with which `close()` cancels the calls in flight, to tell them from a caller's.
_CLOSING = "do_images: the client was closed"


class _Sends:
    """How often aiohttp sent one request's headers: it re-sends an idempotent request by
    itself once when a connection drops, which the retry rules need to know."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


async def _count_send(session: object, context: Any, params: object) -> None:
    sends = context.trace_request_ctx
    if isinstance(sends, _Sends):
        sends.count += 1


def _send_counter() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_headers_sent.append(_count_send)
    return config


# The caller's overall deadline (on the client's monotonic clock), set by Client.deadline and
# by waits; a context variable so that it follows the call into prefetch tasks.
DEADLINE: ContextVar[float | None] = ContextVar("do_images_deadline", default=None)


def token_fingerprint(token: str) -> str:
    """What rate limiters key a token's windows by: a SHA-256 digest, never the token."""
    return hashlib.sha256(b"do_images rate limits:" + token.encode()).hexdigest()


class Transport:
    """Sends requests for one client; owns its aiohttp session unless one was given."""

    def __init__(
        self,
        *,
        token: str,
        base_url: URL,
        settings: Settings,
        session: aiohttp.ClientSession | None,
        limiter: RateLimiter,
        max_response_bytes: int,
        trust_env: bool,
        sleep: Callable[[float], Awaitable[object]],
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        jitter: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._owner = True
        self._shared = _Shared(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            limiter_key=token_fingerprint(token),
            session=session,
            owns_session=session is None,
            trust_env=trust_env,
            limiter=limiter,
            max_response_bytes=max_response_bytes,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
            jitter=jitter,
        )

    def __repr__(self) -> str:
        return f"<Transport {self._shared.base_url}>"

    def derive(self, settings: Settings) -> Transport:
        """A transport with other settings sharing this one's session, limiter and figures;
        closing it closes nothing it shares."""
        derived = copy.copy(self)
        derived._settings = settings
        derived._owner = False
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
        """Close the session if this client made it; a derived client closes nothing."""
        if not self._owner:
            return
        shared = self._shared
        shared.closed = True
        current = asyncio.current_task()
        for task in list(shared.calls):
            if task is not current:
                task.cancel(_CLOSING)
        session, shared.session = shared.session, None
        if shared.owns_session and session is not None:
            await session.close()

    def _check_open(self) -> None:
        if self._shared.closed:
            raise ClientClosedError("the client is closed; create a new do_images.Client")

    def _open_session(self) -> aiohttp.ClientSession:
        self._check_open()
        shared = self._shared
        loop = asyncio.get_running_loop()
        if shared.loop is None:
            shared.loop = loop
        elif shared.loop is not loop and shared.owns_session:
            # aiohttp sessions belong to the loop that made them; using one from another
            # fails deep inside aiohttp, so say so plainly instead.
            raise RuntimeError(
                "this do_images.Client was first used on another event loop;"
                " create one Client per event loop"
            )
        if shared.session is None:
            shared.session = aiohttp.ClientSession(
                # The API sets no cookie that matters, and replaying one would be a surprise.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=shared.trust_env,
                trace_configs=[_send_counter()],
            )
        return shared.session

    async def request(
        self,
        method: str,
        *segments: str | int,
        params: Params | None = None,
        json: Any = None,
    ) -> Response:
        """Send one API call (with retries) and return its 2xx answer, or raise."""
        calls, task = self._shared.calls, asyncio.current_task()
        if task is None:
            return await self._request(method, segments, params, json)
        calls.add(task)
        try:
            return await self._request(method, segments, params, json)
        except asyncio.CancelledError as error:
            if self._shared.closed and error.args == (_CLOSING,):
                task.uncancel()
                raise ClientClosedError(
                    f"{method} /{'/'.join(map(str, segments))}: the client was closed while"
                    " the call ran"
                ) from None
            raise
        finally:
            calls.discard(task)

    async def _request(
        self, method: str, segments: tuple[str | int, ...], params: Params | None, json: Any
    ) -> Response:
        shared, settings = self._shared, self._settings
        url = shared.base_url.joinpath(*(str(segment) for segment in segments))
        body = None if json is None else msgspec.json.encode(json)
        attempt = 0
        previous: DigitalOceanError | None = None
        while True:
            await self._admit()
            sends = _Sends()
            try:
                outcome = await self._attempt(method, url, params, body, attempt + 1, sends)
            finally:  # its slot counts from the answer (or failure) on
                await shared.limiter.answered(shared.limiter_key)
            if isinstance(outcome, Response):
                return outcome
            if sends.count > 1:  # aiohttp re-sent it after a dropped connection
                previous = previous or APIConnectionError("a connection dropped")
            if _lost_delete_succeeded(method, outcome, previous):
                logger.debug("DELETE %s: gone after a lost answer, so it worked", url.path)
                return Response(204, b"")
            attempt += 1
            delay = None
            if attempt <= settings.max_retries:
                delay = retry_delay(
                    outcome, attempt, method, now=shared.wall_clock(), jitter=shared.jitter()
                )
            if isinstance(outcome, RateLimitError) and delay is not None:
                # Every request of this token waits, not only this one.
                await shared.limiter.pause(shared.limiter_key, delay)
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
            if not isinstance(outcome, RateLimitError):  # a 429's wait is the shared pause
                await shared.sleep(delay)
            previous = outcome

    async def _admit(self) -> None:
        """Wait for the rate limiter, within `max_rate_limit_wait` and the deadline."""
        shared = self._shared
        self._check_open()
        budget = self._settings.max_rate_limit_wait
        remaining = self.remaining()
        bound_by_deadline = remaining is not None and remaining < budget
        if remaining is not None and bound_by_deadline:
            budget = max(0.0, remaining)
        wait = await shared.limiter.acquire(shared.limiter_key, budget)
        if wait is None:
            return
        if bound_by_deadline:
            raise DeadlineExceededError(
                f"the rate limit frees a request in {wait:.1f} s, after the deadline"
            )
        reset_at = datetime.fromtimestamp(shared.wall_clock() + wait, tz=timezone.utc)
        raise RateLimitError(
            429,
            None,
            f"the rate limit frees a request in {wait:.0f} s, longer than max_rate_limit_wait"
            f" ({self._settings.max_rate_limit_wait:g} s); not sent",
            reset_at=reset_at,
        )

    def _timeout(self) -> aiohttp.ClientTimeout:
        total = self._settings.timeout
        remaining = self.remaining()
        if remaining is not None:
            if remaining <= 0:
                raise DeadlineExceededError("the deadline passed before the request was sent")
            total = min(total, remaining)
        return aiohttp.ClientTimeout(total=total, sock_connect=self._settings.connect_timeout)

    async def _read(self, answer: aiohttp.ClientResponse, where: str) -> bytes:
        """The whole body, after decompression, or ResponseDecodeError past the bound."""
        limit = self._shared.max_response_bytes
        declared = answer.content_length
        if declared is not None and declared > limit and not answer.headers.get("Content-Encoding"):
            raise _too_large(where, answer.status, limit)
        chunks: list[bytes] = []
        size = 0
        # aiohttp inflates a compressed body a bounded piece at a time, so counting what
        # comes out here also bounds a decompression bomb.
        async for chunk in answer.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                raise _too_large(where, answer.status, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _attempt(
        self,
        method: str,
        url: URL,
        params: Params | None,
        body: bytes | None,
        attempt: int,
        sends: _Sends,
    ) -> Response | DigitalOceanError:
        """One HTTP exchange: the answer, or the error to retry or raise."""
        shared = self._shared
        session = self._open_session()
        headers = shared.headers
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        where = f"{method} {url.path}"
        try:
            # Redirects are not followed: the API never redirects, and following one could
            # carry the bearer token to another host. raise_for_status=False: a caller's
            # session may default to True, and the SDK maps every status itself.
            async with session.request(
                method,
                url,
                params=params,
                data=body,
                headers=headers,
                timeout=self._timeout(),
                allow_redirects=False,
                raise_for_status=False,
                trace_request_ctx=sends,
            ) as answer:
                status, answer_headers = answer.status, answer.headers
                content = await self._read(answer, where)
        except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
            if shared.closed:
                return ClientClosedError(f"{where}: the client was closed while the call ran")
            if isinstance(exc, RuntimeError):
                raise
            logger.debug("%s failed: %s (attempt %d)", where, type(exc).__name__, attempt)
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                return DeadlineExceededError(f"{where}: the deadline passed")
            return _connection_error(exc, method, url)
        logger.debug("%s -> %d (attempt %d)", where, status, attempt)
        limits = rate_limit_from(answer_headers)
        if limits is not None:
            shared.rate_limit = limits
            if limits.remaining == 0 and limits.reset_at is not None:
                wait = limits.reset_at.timestamp() - shared.wall_clock()
                if wait > 0:
                    await shared.limiter.pause(shared.limiter_key, wait)
        if not 200 <= status < 300:
            fields = decode_error_fields(content)
            return error_from_response(status, answer_headers, fields, content)
        return Response(status, content)


def _lost_delete_succeeded(
    method: str, outcome: DigitalOceanError, previous: DigitalOceanError | None
) -> bool:
    """A retried DELETE that finds the image gone, after an attempt whose answer was lost
    (no answer, or a proxy's 5xx), did what it was asked."""
    return (
        method == "DELETE"
        and isinstance(outcome, NotFoundError)
        and isinstance(previous, (APIConnectionError, ServerError))
    )


def _too_large(where: str, status: int, limit: int) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"{where}: the answer is larger than max_response_bytes ({limit:,} bytes)", status=status
    )


def _short(error: DigitalOceanError) -> str:
    return str(getattr(error, "status", "")) or type(error).__name__


def _connection_error(exc: BaseException, method: str, url: URL) -> APIConnectionError:
    if isinstance(exc, asyncio.TimeoutError):
        message = f"{method} {url.path} timed out"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        # aiohttp's own text says "ssl:default" even for plain http; name what was tried.
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        message = (
            f"{method} {url.path}: cannot connect to {url.scheme}://{exc.host}:{exc.port}: {reason}"
        )
    else:
        message = f"{method} {url.path} failed: {type(exc).__name__}: {exc}"
    # aiohttp's ClientResponseError carries the request headers (the token) in its repr.
    cause = None if isinstance(exc, aiohttp.ClientResponseError) else exc
    return APIConnectionError(message, cause)


def default_jitter() -> float:
    return random.random()
