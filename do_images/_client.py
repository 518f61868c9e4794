"""Client: resolves configuration once and owns the transport (and so the session)."""

from __future__ import annotations

import copy
import ipaddress
import os
from collections.abc import Generator, Iterable
from contextlib import contextmanager
from types import TracebackType
from typing import Self

import aiohttp
from yarl import URL

from . import _validate as check
from ._account_transfers import AccountTransfers
from ._call import Settings, Transport
from ._clock import SYSTEM_CLOCK, Clock
from ._governor import Governor, RateLimiter
from ._http import Http
from ._image_actions import ImageActions
from ._images import Images
from ._models import RateLimit
from ._windows import DIGITALOCEAN_LIMITS, RateWindow, rate_windows

DEFAULT_BASE_URL = "https://api.digitalocean.com"
TOKEN_VARIABLES = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")
# The cap on a listing's page requests in flight. Prefetch starts slow (1 page, then 3, 12, …),
# so a loop that leaves early has spent little whatever the cap; measured (benchmarks/) at 30 ms
# per page, 16 walks 100 pages in 1.76x the time of firing them all at once, 64 in 1.04x: the
# cap only matters to long walks, which it should not hold back.
DEFAULT_CONCURRENCY = 64
# A 200-item page is about 150 KB; this leaves room for any honest answer and stops a runaway one.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# What a walk may hold in pages fetched ahead (decompressed), about 400 full pages.
DEFAULT_MAX_PREFETCH_BYTES = 64 * 1024 * 1024
# The per-minute window frees a slot at most 60 s after an answer, and an attempt takes at most
# `timeout` (30 s by default): twice the window covers both with room to spare.
DEFAULT_MAX_RATE_LIMIT_WAIT = 120.0


def _resolve_token(token: object) -> str:
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
    if not (token.isascii() and token.isprintable()) or " " in token:
        # Never echo the token, not even in part: a byte the environment could not decode
        # arrives as a lone surrogate, which would fail later with the token in the error.
        raise ValueError(
            "token must be printable ASCII without spaces (a DigitalOcean token is); check"
            " how it was set"
        )
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _resolve_base_url(base_url: object, allow_insecure_http: bool) -> URL:
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


def _limiter(
    rate_limiter: RateLimiter | None,
    rate_limits: Iterable[RateWindow | tuple[int, float]] | None,
    clock: Clock,
) -> RateLimiter:
    if rate_limiter is None:
        windows = DIGITALOCEAN_LIMITS if rate_limits is None else rate_windows(rate_limits)
        return Governor(windows, clock=clock)
    if rate_limits is not None:
        raise ValueError("give rate_limits or rate_limiter, not both")
    if not (
        callable(getattr(rate_limiter, "acquire", None))
        and callable(getattr(rate_limiter, "pause", None))
    ):
        raise TypeError(
            "rate_limiter must have async acquire(key, max_wait), pause(key, seconds) and"
            " answered(key)"
        )
    if not callable(getattr(rate_limiter, "answered", None)):
        return _Unanswered(rate_limiter)
    return rate_limiter


class _Unanswered:
    """A limiter written for 0.2, before `answered` joined the protocol: it is not told."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def __repr__(self) -> str:
        return repr(self._limiter)

    async def acquire(self, key: str, max_wait: float) -> float | None:
        return await self._limiter.acquire(key, max_wait)

    async def pause(self, key: str, seconds: float) -> None:
        await self._limiter.pause(key, seconds)

    async def answered(self, key: str) -> None:
        return None


def _settings(
    timeout: float, connect_timeout: float | None, max_retries: object, max_rate_limit_wait: float
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
    a repr, log line or exception; one that is not printable ASCII is refused at once.

    Retries: at most `max_retries` retries after the first attempt. 5xx answers, timeouts
    and connection errors are retried only for GET, PUT and DELETE (a re-sent POST could
    create a second image), or for any method when the request never left the process (no
    connection could be made); a 429 is retried for every method, no sooner than the API's
    ``retry-after``/``ratelimit-reset`` allow, unless that is more than
    `max_rate_limit_wait` seconds away, when RateLimitError (with ``retry_after`` and
    ``reset_at``) is raised. Other retries back off exponentially from 0.5 s to 8 s with jitter.

    Rate limits: every request passes a rate limiter: by default an in-process sliding-window
    governor (`rate_limits`, DigitalOcean's 250/minute and 5,000/hour by default, as
    RateWindows or ``(max_requests, seconds)`` pairs; ``()`` turns it off), or `rate_limiter`
    (such as ``do_images.redis.RedisRateLimiter``, shared by processes). A 429, or an answer
    reporting none remaining, pauses every request of the token. No wait the SDK imposes
    exceeds `max_rate_limit_wait`: a request that would have to wait longer raises
    RateLimitError at once. The default (120 s) always covers the per-minute window, which
    frees a slot at most 60 s after an answer that took at most `timeout`: a default client
    walks any number of pages at 250 a minute, and only the hourly budget (or a server
    pause longer than the default) raises. Whatever a server says, no pause or retry wait
    is longer than an hour (``MAX_PAUSE``).

    `timeout` applies to each attempt from the moment it has a connection (time queued for
    a pooled connection is not counted; `connect_timeout`, or `timeout` if None, bounds
    connecting);
    `with_options` overrides them per call, `deadline` bounds a whole block.
    `concurrency` caps the page requests a listing keeps in flight, and `max_prefetch_bytes`
    the bytes of pages a walk holds fetched ahead (past it, only the page needed next is
    requested, so a walk never stalls). `max_response_bytes` bounds every answer after
    decompression (ResponseDecodeError past it). `trust_env=True` takes proxies from
    ``HTTP(S)_PROXY``/``NO_PROXY`` (the SDK's own session). `clock` is the time every wait
    goes through (``do_images._clock.Clock``; tests give a fake one).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | URL = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 5,
        session: aiohttp.ClientSession | None = None,
        rate_limits: Iterable[RateWindow | tuple[int, float]] | None = None,
        rate_limiter: RateLimiter | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        connect_timeout: float | None = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_prefetch_bytes: int = DEFAULT_MAX_PREFETCH_BYTES,
        trust_env: bool = False,
        allow_insecure_http: bool = False,
        clock: Clock | None = None,
    ) -> None:
        session = check.optional_instance(
            "session", session, aiohttp.ClientSession, "an aiohttp.ClientSession"
        )
        clock = check.optional_instance("clock", clock, Clock, "a do_images.Clock") or SYSTEM_CLOCK
        self._base_url = _resolve_base_url(base_url, allow_insecure_http)
        self._concurrency = check.positive_int("concurrency", concurrency)
        self._max_prefetch_bytes = check.positive_int("max_prefetch_bytes", max_prefetch_bytes)
        token = _resolve_token(token)
        http = Http(
            base_url=self._base_url,
            token=token,
            session=session,
            trust_env=check.optional_bool("trust_env", trust_env) or False,
            max_response_bytes=check.positive_int("max_response_bytes", max_response_bytes),
        )
        self._bind(
            Transport(
                http=http,
                token=token,
                settings=_settings(timeout, connect_timeout, max_retries, max_rate_limit_wait),
                limiter=_limiter(rate_limiter, rate_limits, clock),
                clock=clock,
            )
        )

    def _bind(self, transport: Transport) -> None:
        self._transport = transport
        concurrency, budget = self._concurrency, self._max_prefetch_bytes
        self.images: Images = Images(
            self._transport, concurrency=concurrency, prefetch_bytes=budget
        )
        """Images: list, get, create, update, delete, wait."""
        self.image_actions: ImageActions = ImageActions(
            self._transport, concurrency=concurrency, prefetch_bytes=budget
        )
        """Image actions: list, get, transfer, convert, wait."""
        self.account_transfers: AccountTransfers = AccountTransfers(self._transport)
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
    def deadline(self, seconds: float) -> Generator[None, None, None]:
        """Bound everything inside (retries, whole listings, waits) to `seconds` from now.

        Past it, a call raises the last error it saw (e.g. ServerError), or
        DeadlineExceededError; a wait raises its timeout error. Nested deadlines keep the
        earliest.

        >>> with client.deadline(60):
        ...     images = [image async for image in client.images.list()]
        """
        with self._transport.clock.deadline(check.positive_number("seconds", seconds)):
            yield

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

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
