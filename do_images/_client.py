"""Client: resolves configuration once and owns the transport (and so the session)."""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType

import aiohttp
from yarl import URL

from . import _validate as check
from ._account_transfers import AccountTransfers
from ._clock import Clock
from ._governor import Governor, RateLimiter
from ._image_actions import ImageActions
from ._images import Images
from ._models import RateLimit
from ._transport import DEADLINE, Settings, Transport, default_jitter
from ._windows import rate_windows

DEFAULT_BASE_URL = "https://api.digitalocean.com"
TOKEN_VARIABLES = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")
DIGITALOCEAN_LIMITS = ((250, 60.0), (5000, 3600.0))
# The cap on a listing's page requests in flight. Prefetch starts slow (1 page, then 3, 12, …),
# so a loop that leaves early has spent little whatever the cap; measured (benchmarks/) at 30 ms
# per page, 16 walks 100 pages in 1.76x the time of firing them all at once, 64 in 1.04x: the
# cap only matters to long walks, which it should not hold back.
DEFAULT_CONCURRENCY = 64
# A 200-item page is about 150 KB; this leaves room for any honest answer and stops a runaway one.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# Whitespace and control characters cannot be part of a token, and would break the header.
_NOT_IN_TOKEN = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _resolve_token(token: str | None) -> str:
    if token is None:
        token = next((os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None)
        if token is None:
            raise ValueError(
                "no API token: pass Client(token=...) or set DIGITALOCEAN_TOKEN"
                " (a personal access token from https://cloud.digitalocean.com/account/api/tokens)"
            )
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, not {type(token).__name__}")
    token = token.strip()
    if not token:
        raise ValueError("token must not be empty")
    if _NOT_IN_TOKEN.search(token):
        # Never echo the token, not even in part.
        raise ValueError("token must not contain whitespace or control characters")
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _resolve_base_url(base_url: str | URL, allow_insecure_http: bool) -> URL:
    if not isinstance(base_url, (str, URL)):
        raise TypeError(f"base_url must be a str or yarl.URL, not {type(base_url).__name__}")
    try:
        url = URL(base_url)
    except ValueError as error:
        raise ValueError(f"base_url is not a URL: {error}") from None
    if url.user is not None or url.password is not None:
        # Checked first so that no message below prints the password.
        raise ValueError("base_url must not hold a user name or password; the token is the auth")
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {str(base_url)!r}")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ValueError(
            f"base_url {str(url)!r} would send the token in clear text; use https, a loopback"
            " host, or pass allow_insecure_http=True"
        )
    if url.query_string or url.fragment:
        raise ValueError("base_url must not have a query or fragment")
    return url.with_path(url.path.rstrip("/") or "/")


def _resolve_rate_limits(rate_limits: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    windows = tuple(rate_limits)
    for window in windows:
        if not (isinstance(window, tuple) and len(window) == 2):
            raise TypeError(f"rate_limits must hold (max_requests, seconds) pairs, got {window!r}")
        check.positive_int("rate_limits max_requests", window[0])
        check.positive_number("rate_limits seconds", window[1])
    return windows


def _limiter(
    rate_limiter: RateLimiter | None,
    rate_limits: Sequence[tuple[int, float]] | None,
    sleep: Callable[[float], Awaitable[object]],
    clock: Callable[[], float],
) -> RateLimiter:
    if rate_limiter is None:
        windows = DIGITALOCEAN_LIMITS if rate_limits is None else rate_limits

        class _Seams(Clock):  # the client's test seams as a Clock (until they are one)
            def monotonic(self) -> float:
                return clock()

            async def sleep(self, seconds: float) -> None:
                await sleep(seconds)

        return Governor(rate_windows(_resolve_rate_limits(windows)), clock=_Seams())
    if rate_limits is not None:
        raise ValueError("give rate_limits or rate_limiter, not both")
    if not all(
        callable(getattr(rate_limiter, name, None)) for name in ("acquire", "pause", "answered")
    ):
        raise TypeError(
            "rate_limiter must have async acquire(key, max_wait), pause(key, seconds) and"
            " answered(key)"
        )
    return rate_limiter


def _settings(
    timeout: float, connect_timeout: float | None, max_retries: int, max_rate_limit_wait: float
) -> Settings:
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise ValueError(f"max_retries must be an int of 0 or more, got {max_retries!r}")
    return Settings(
        timeout=check.positive_number("timeout", timeout),
        connect_timeout=None
        if connect_timeout is None
        else check.positive_number("connect_timeout", connect_timeout),
        max_retries=max_retries,
        max_rate_limit_wait=check.non_negative_number(
            "max_rate_limit_wait", max_rate_limit_wait, allow_none=False, allow_inf=True
        )
        or 0.0,
    )


class Client:
    """An async client of DigitalOcean's Images API.

    ``async with do_images.Client() as client:`` reads the token from `token`, else
    ``DIGITALOCEAN_TOKEN``, else ``DIGITALOCEAN_ACCESS_TOKEN``. The token never appears in
    a repr, log line or exception.

    Retries: at most `max_retries` retries after the first attempt. 5xx answers, timeouts
    and connection errors are retried only for GET, PUT and DELETE (a re-sent POST could
    create a second image); a 429 is retried for every method, no sooner than the API's
    ``retry-after``/``ratelimit-reset`` allow, unless that is more than
    `max_rate_limit_wait` seconds away, when RateLimitError (with ``reset_at``) is raised.
    Other retries back off exponentially from 0.5 s to 8 s with jitter.

    Rate limits: every request passes a rate limiter: by default an in-process sliding-window
    governor (`rate_limits`, DigitalOcean's 250/minute and 5,000/hour by default; ``()``
    turns it off), or `rate_limiter` (such as ``do_images.redis.RedisRateLimiter``, shared by
    processes). A 429, or an answer reporting none remaining, pauses every request of the
    token. No wait the SDK imposes exceeds `max_rate_limit_wait`: a request that would have to
    wait longer raises RateLimitError at once, with ``reset_at``.

    `timeout` applies to each attempt (`connect_timeout` to establishing the connection);
    `with_options` overrides them per call, `deadline` bounds a whole block.
    `concurrency` caps the page requests a listing keeps in flight.
    `max_response_bytes` bounds every answer after decompression (ResponseDecodeError past it).
    `trust_env=True` takes proxies from ``HTTP(S)_PROXY``/``NO_PROXY`` (the SDK's own session).
    `sleep`, `clock` (monotonic seconds), `wall_clock` (epoch seconds, to read the API's reset
    stamps) and `jitter` exist for tests.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | URL = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 5,
        session: aiohttp.ClientSession | None = None,
        rate_limits: Sequence[tuple[int, float]] | None = None,
        rate_limiter: RateLimiter | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_rate_limit_wait: float = 60.0,
        connect_timeout: float | None = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        trust_env: bool = False,
        allow_insecure_http: bool = False,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = default_jitter,
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(
                f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
            )
        self._base_url = _resolve_base_url(base_url, allow_insecure_http)
        self._concurrency = check.positive_int("concurrency", concurrency)
        self._bind(
            Transport(
                token=_resolve_token(token),
                base_url=self._base_url,
                settings=_settings(timeout, connect_timeout, max_retries, max_rate_limit_wait),
                session=session,
                limiter=_limiter(rate_limiter, rate_limits, sleep, clock),
                max_response_bytes=check.positive_int("max_response_bytes", max_response_bytes),
                trust_env=check.optional_bool("trust_env", trust_env) or False,
                sleep=sleep,
                clock=clock,
                wall_clock=wall_clock,
                jitter=jitter,
            )
        )

    def _bind(self, transport: Transport) -> None:
        self._transport = transport
        concurrency = self._concurrency
        self.images = Images(self._transport, concurrency=concurrency)
        """Images: list, get, create, update, delete, wait."""
        self.image_actions = ImageActions(self._transport, concurrency=concurrency)
        """Image actions: list, get, transfer, convert, wait."""
        self.account_transfers = AccountTransfers(self._transport)
        """Account transfers: create, accept, cancel, decline."""

    def __repr__(self) -> str:
        return f"<do_images.Client base_url={str(self._base_url)!r}>"

    def with_options(
        self,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_retries: int | None = None,
        max_rate_limit_wait: float | None = None,
    ) -> Client:
        """This client with other per-call options, sharing its session and rate limits.

        >>> await client.with_options(timeout=5, max_retries=0).images.get(12)
        """
        current = self._transport.settings
        settings = _settings(
            current.timeout if timeout is None else timeout,
            current.connect_timeout if connect_timeout is None else connect_timeout,
            current.max_retries if max_retries is None else max_retries,
            current.max_rate_limit_wait if max_rate_limit_wait is None else max_rate_limit_wait,
        )
        derived = copy.copy(self)
        derived._bind(self._transport.derive(settings))
        return derived

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Bound everything inside (retries, whole listings, waits) to `seconds` from now.

        Past it, a call raises the last error it saw (e.g. ServerError), or
        DeadlineExceededError; a wait raises its timeout error. Nested deadlines keep the
        earliest.

        >>> with client.deadline(60):
        ...     images = [image async for image in client.images.list()]
        """
        until = self._transport.clock() + check.positive_number("seconds", seconds)
        outer = DEADLINE.get()
        token = DEADLINE.set(until if outer is None else min(outer, until))
        try:
            yield
        finally:
            DEADLINE.reset(token)

    @property
    def base_url(self) -> URL:
        return self._base_url

    @property
    def rate_limit(self) -> RateLimit | None:
        """The last rate-limit figures the API reported (None before the first answer)."""
        return self._transport.rate_limit

    async def close(self) -> None:
        """Close the client's own session (a session passed in is left open).

        Later calls, and calls still in flight, raise ClientClosedError. Closing a client made
        by `with_options` closes nothing: the session belongs to the client it came from.
        """
        await self._transport.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
