"""The call policy around attempts: the rate limiter, retries, pauses, the deadline, the
lost-DELETE rule, and close() stopping the calls in flight.

One `Transport.request` is one logical API call: it waits for the limiter, lets `_http` make
one attempt, tells the limiter the attempt has ended, and retries as `_retry.retry_delay`
decides. Every wait goes through the client's `Clock`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
from collections.abc import Generator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import attrs
import msgspec

from ._clock import Clock
from ._convert import decode_error_fields
from ._errors import (
    APIConnectionError,
    ClientClosedError,
    DeadlineExceededError,
    DigitalOceanError,
    NotFoundError,
    RateLimitError,
    ServerError,
    error_from_response,
)
from ._governor import Governor, RateLimiter
from ._headers import moment, rate_limit_from, reset_in
from ._http import Http, NoAnswer, Params, Response
from ._models import RateLimit
from ._retry import retry_delay
from ._windows import MAX_PAUSE

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger("do_images")

__all__ = ["Params", "Response", "Settings", "Transport", "token_fingerprint"]


@attrs.frozen
class Settings:
    """Per-call options; `Client.with_options` derives a transport with other ones."""

    timeout: float
    connect_timeout: float | None
    max_retries: int
    max_rate_limit_wait: float


@attrs.define(eq=False)
class _Shared:
    """What every transport derived from one client shares: attempts, limiter, clock, figures."""

    http: Http
    limiter: RateLimiter
    limiter_key: str = attrs.field(repr=False)
    clock: Clock
    rate_limit: RateLimit | None = None
    calls: set[asyncio.Task[object]] = attrs.field(factory=set[asyncio.Task[object]])
    """The tasks inside a call or a wait, which `close` stops with ClientClosedError."""
    reports: set[asyncio.Future[None]] = attrs.field(factory=set[asyncio.Future[None]])
    """`answered` reports still running after their call was cancelled."""


# The message with which `close()` cancels the calls in flight, to tell them from a caller's.
_CLOSING = "do_images: the client was closed"


def token_fingerprint(token: str) -> str:
    """What rate limiters key a token's windows by: a SHA-256 digest, never the token."""
    return hashlib.sha256(b"do_images rate limits:" + token.encode()).hexdigest()


class Transport:
    """One client's calls: each a series of attempts kept to the limiter and the deadline."""

    def __init__(
        self, *, http: Http, token: str, settings: Settings, limiter: RateLimiter, clock: Clock
    ) -> None:
        self._settings = settings
        self._owner = True
        self._shared = _Shared(
            http=http, limiter=limiter, limiter_key=token_fingerprint(token), clock=clock
        )

    def __repr__(self) -> str:
        return f"<Transport {self._shared.http.base_url}>"

    def for_token(self, token: str, session: aiohttp.ClientSession | None) -> Transport:
        """A transport with this one's settings, limiter and clock for another token, on
        `session`; the limiter keeps the token's windows apart by its own key."""
        shared = self._shared
        return Transport(
            http=shared.http.for_token(token, session),
            token=token,
            settings=self._settings,
            limiter=shared.limiter,
            clock=shared.clock,
        )

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
    def clock(self) -> Clock:
        return self._shared.clock

    async def close(self) -> None:
        """Stop the calls and waits in flight and close the session if this client made it;
        a derived client closes nothing."""
        if not self._owner:
            return
        shared = self._shared
        shared.http.closed = True
        current = asyncio.current_task()
        for task in list(shared.calls):
            if task is not current:
                task.cancel(_CLOSING)
        await shared.http.close()

    @contextmanager
    def stoppable(self, what: str) -> Generator[str, None, None]:
        """Run a call or a wait (`what`, which it yields back) so that `close()` stops it with
        ClientClosedError."""
        if self._shared.http.closed:
            raise ClientClosedError("the client is closed; create a new do_images.Client")
        calls, task = self._shared.calls, asyncio.current_task()
        if task is None or task in calls:
            yield what
            return
        calls.add(task)
        try:
            yield what
        except asyncio.CancelledError as error:
            if self._shared.http.closed and error.args == (_CLOSING,):
                task.uncancel()
                raise ClientClosedError(f"{what}: the client was closed while it ran") from None
            raise
        finally:
            calls.discard(task)

    async def request(
        self,
        method: str,
        *segments: str | int,
        params: Params | None = None,
        json: object = None,
    ) -> Response:
        """Send one API call (with retries) and return its 2xx answer, or raise."""
        with self.stoppable(f"{method} /{'/'.join(map(str, segments))}") as where:
            return await self._request(method, segments, params, json, where)

    async def _request(
        self,
        method: str,
        segments: tuple[str | int, ...],
        params: Params | None,
        json: object,
        where: str,
    ) -> Response:
        shared, settings = self._shared, self._settings
        body = None if json is None else msgspec.json.encode(json)
        attempt = 0
        previous: DigitalOceanError | None = None
        while True:
            outcome, sends = await self._attempt(method, segments, params, body, where)
            if isinstance(outcome, Response):
                return outcome
            if sends > 1:  # aiohttp re-sent it after a dropped connection
                previous = previous or APIConnectionError("a connection dropped")
            if _lost_delete_succeeded(method, outcome, previous):
                logger.debug("%s: gone after a lost answer, so it worked", where)
                return Response(204, b"")
            attempt += 1
            delay = None
            if attempt <= settings.max_retries:
                delay = retry_delay(
                    outcome,
                    attempt,
                    method,
                    now=shared.clock.wall(),
                    jitter=shared.clock.jitter(),
                    sent=sends > 0,
                )
            if isinstance(outcome, RateLimitError) and delay is not None:
                # Every request of this token waits, not only this one.
                await shared.limiter.pause(shared.limiter_key, min(delay, MAX_PAUSE))
            remaining = shared.clock.remaining()
            if (
                delay is None
                or (isinstance(outcome, RateLimitError) and delay > settings.max_rate_limit_wait)
                or (remaining is not None and delay >= remaining)
            ):
                raise outcome
            logger.debug(
                "retrying %s in %.2fs after %s (retry %d of %d)",
                where, delay, _short(outcome), attempt, settings.max_retries,
            )  # fmt: skip
            if not isinstance(outcome, RateLimitError):  # a 429's wait is the shared pause
                await shared.clock.sleep(delay)
            previous = outcome

    async def _attempt(
        self,
        method: str,
        segments: tuple[str | int, ...],
        params: Params | None,
        body: bytes | None,
        where: str,
    ) -> tuple[Response | DigitalOceanError, int]:
        """One attempt inside the limiter: the 2xx answer or the error to retry or raise, and
        how often its headers were sent. The limiter hears `answered` once it has ended,
        however it ended (cancellation included)."""
        shared, settings = self._shared, self._settings
        await self._admit()
        try:
            remaining = shared.clock.remaining()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceededError("the deadline passed before the request was sent")
            sent = await shared.http.send(
                method,
                segments,
                params=params,
                body=body,
                timeout=settings.timeout,
                connect_timeout=settings.connect_timeout,
                remaining=remaining,
            )
        except BaseException:
            self._answered()  # reported even while the call is being cancelled
            raise
        report = self._answered()
        if report is not None:
            await asyncio.shield(report)
        if isinstance(sent, NoAnswer):
            remaining = shared.clock.remaining()
            if (
                remaining is not None
                and remaining <= 0
                and isinstance(sent.error, APIConnectionError)
            ):
                return DeadlineExceededError(f"{where}: the deadline passed"), sent.sends
            return sent.error, sent.sends
        await self._note_limits(sent)
        if not 200 <= sent.status < 300:
            fields = decode_error_fields(sent.body)
            error = error_from_response(
                sent.status, sent.headers, fields, sent.body, wall=shared.clock.wall()
            )
            return error, sent.sends
        return sent, sent.sends

    def _answered(self) -> asyncio.Future[None] | None:
        """Tell the limiter an attempt it let go has ended. The in-process governor is told at
        once (None); another limiter's report runs as a task of its own, so that cancelling
        the call (or awaiting the report) cannot lose it."""
        shared = self._shared
        limiter = shared.limiter
        if isinstance(limiter, Governor) and type(limiter).answered is Governor.answered:
            limiter.count_answer(shared.limiter_key)  # no I/O: a task per attempt costs more
            return None
        report = asyncio.ensure_future(shared.limiter.answered(shared.limiter_key))
        shared.reports.add(report)
        report.add_done_callback(shared.reports.discard)
        return report

    async def _note_limits(self, answer: Response) -> None:
        """Keep the answer's rate-limit figures; none remaining pauses every request."""
        shared = self._shared
        limits = rate_limit_from(answer.headers)
        if limits is None:
            return
        shared.rate_limit = limits
        if limits.remaining == 0:
            wait = reset_in(answer.headers, shared.clock.wall())
            if wait:
                await shared.limiter.pause(shared.limiter_key, wait)

    async def _admit(self) -> None:
        """Wait for the rate limiter, within `max_rate_limit_wait` and the deadline."""
        shared = self._shared
        if shared.http.closed:
            raise ClientClosedError("the client is closed; create a new do_images.Client")
        budget = self._settings.max_rate_limit_wait
        remaining = shared.clock.remaining()
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
        raise RateLimitError(
            429,
            None,
            f"the rate limit frees a request in {wait:.0f} s, longer than max_rate_limit_wait"
            f" ({self._settings.max_rate_limit_wait:g} s); not sent",
            reset_at=moment(shared.clock.wall(), wait),
            retry_after=min(wait, MAX_PAUSE),
        )


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


def _short(error: DigitalOceanError) -> str:
    return str(getattr(error, "status", "")) or type(error).__name__
