"""When a request may go: the `RateLimiter` protocol and the in-process governor behind it.

The governor keeps to sliding windows like DigitalOcean's own (250/minute, 5,000/hour per
token), so a crawl slows down before the API answers 429; when the API does answer 429, or
reports none remaining, it pauses every request of that token. `do_images.redis` holds the
limiter that shares the same state across processes and machines.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from ._clock import SYSTEM_CLOCK, Clock
from ._windows import RateWindow, rate_windows

logger = logging.getLogger("do_images")

# The API counts a request when it arrives, we when it leaves; a little slack on each window
# keeps a request from arriving a moment before the server's window has moved on.
MARGIN = 0.02
MAX_MARGIN = 0.5


class RateLimiter(Protocol):
    """Decides when each request may go, and shares pauses, for every client that holds it.

    `key` is a fingerprint of the token (a SHA-256 hex digest, never the token itself); one
    limiter may serve the clients of many tokens, each with its own windows and pauses.
    """

    async def acquire(self, key: str, max_wait: float) -> float | None:
        """Take a slot for one request in every window of `key`, waiting at most `max_wait`
        seconds for it, and return None. If the slot frees only later than that, take
        nothing, do not sleep, and return how many seconds away it is."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every request of `key` for `seconds` from now (a 429, or none remaining).
        A pause only ever extends an earlier one."""
        ...

    async def answered(self, key: str) -> None:
        """One request of `key` that `acquire` let go has had its answer (or failed, or was
        abandoned): from now on it counts in each window until now plus the window's length.
        Until then it holds its slot. The SDK calls this exactly once per successful
        `acquire`; slots are interchangeable, so no ticket is needed."""
        ...


def with_margin(windows: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """`(max_requests, seconds)` windows with the travel margin added to each length."""
    return tuple(
        (int(limit), float(seconds) + min(MAX_MARGIN, seconds * MARGIN))
        for limit, seconds in windows
    )


def announce_wait(seconds: float) -> None:
    """Say that a request is held for the rate limit (the CLI shows it in its progress line)."""
    logger.info("waiting %.0f s for the rate limit", seconds, extra={"rate_limit_wait": seconds})


class _TokenState:
    """One token's windows (send times, some of them reserved in the future) and pause."""

    __slots__ = ("paused_until", "stamps")

    def __init__(self, windows: int) -> None:
        self.stamps: tuple[deque[float], ...] = tuple(deque() for _ in range(windows))
        self.paused_until = 0.0


class Governor:
    """The in-process RateLimiter: sliding windows of `(max_requests, seconds)` per key.

    A request reserves the earliest moment at which every window has room (appending it
    to each window) and sleeps until then, so waiters go first come, first served without
    a lock or a polling loop. Time is `clock`, a monotonic clock: a wall clock stepping back
    cannot stall a window.
    """

    def __init__(
        self, windows: Sequence[RateWindow | tuple[int, float]], *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._windows = with_margin([(w.max_requests, w.seconds) for w in rate_windows(windows)])
        self._clock = clock.monotonic
        self._sleep = clock.sleep
        self._states: dict[str, _TokenState] = {}

    def _state(self, key: str) -> _TokenState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _TokenState(len(self._windows))
        return state

    def _earliest(self, state: _TokenState, now: float) -> float:
        """The first moment at or after `now` at which one more request fits every window."""
        start = max(now, state.paused_until)
        for (limit, seconds), stamps in zip(self._windows, state.stamps, strict=True):
            while stamps and stamps[0] <= now - seconds:
                stamps.popleft()
            if len(stamps) >= limit:
                start = max(start, stamps[len(stamps) - limit] + seconds)
        return start

    async def acquire(self, key: str, max_wait: float) -> float | None:
        state = self._state(key)
        now = self._clock()
        start = self._earliest(state, now)
        if start - now > max_wait:
            return start - now
        for stamps in state.stamps:
            stamps.append(start)
        waited = 0.0
        # A pause may arrive while this request waits for its slot: honour it too, within
        # the same budget (bounded: each pass either returns or sleeps until a known time).
        while (wait := max(start, state.paused_until) - self._clock()) > 0:
            if waited + wait > max_wait:
                return wait
            announce_wait(wait)
            await self._sleep(wait)
            waited += wait
            start = self._clock()
        return None

    async def answered(self, key: str) -> None:
        # Placeholder until the governor holds slots until the answer (issue 19).
        return None

    async def pause(self, key: str, seconds: float) -> None:
        state = self._state(key)
        state.paused_until = max(state.paused_until, self._clock() + seconds)
