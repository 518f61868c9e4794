"""When a request may go: the `RateLimiter` protocol and the in-process governor behind it.

The governor keeps to sliding windows like DigitalOcean's own (250/minute, 5,000/hour per
token), so a crawl slows down before the API answers 429; when the API does answer 429, or
reports none remaining, it pauses every request of that token. `do_images.redis` holds the
limiter that shares the same state across processes and machines.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from ._clock import SYSTEM_CLOCK, Clock
from ._windows import MAX_PAUSE, RateWindow, rate_windows

logger = logging.getLogger("do_images")

MAX_HOLD = 120.0
"""How long a slot is held at most without its answer (seconds): past it, the request counts
as answered then. Longer than any attempt's timeout, it only matters for a caller that never
reports the answer (a process that died, in the Redis limiter)."""

# A waiter whose earliest moment depends on answers still to come looks again at least this
# often (seconds) to see whether that moment has moved past its budget.
_RECHECK = 0.05


class RateLimiter(Protocol):
    """Decides when each request may go, and shares pauses, for every client that holds it.

    `key` is a fingerprint of the token (a SHA-256 hex digest, never the token itself); one
    limiter may serve the clients of many tokens, each with its own windows and pauses.

    The rule that keeps a server's windows exact whatever the delays: a request holds its
    slot in every window from the moment `acquire` lets it go until `answered` is called,
    and from then on counts in each window for the window's length. Any request the server
    counts inside one of its windows was answered after that window began, so it is still
    counted here when the next request asks to leave.
    """

    async def acquire(self, key: str, max_wait: float) -> float | None:
        """Wait until one more request of `key` fits every window and the pause is over,
        take its slot and return None; waiting is bounded by `max_wait` seconds. If the slot
        is known to free later than that (at any point while waiting), take nothing and
        return how many seconds away it is at least. A refused or cancelled call holds
        nothing."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every request of `key` for `seconds` from now (a 429, or none remaining).
        A pause only ever extends an earlier one, and lasts at most `MAX_PAUSE`; a
        non-finite or negative `seconds` is ignored."""
        ...

    async def answered(self, key: str) -> None:
        """One request of `key` that `acquire` let go has had its answer (or failed, timed
        out, or was cancelled): from now on it counts in each window until now plus the
        window's length. Until then it holds its slot. The SDK calls this exactly once per
        successful `acquire`; slots are interchangeable, so no ticket is needed."""
        ...


def announce_wait(seconds: float) -> None:
    """Say that a request is held for the rate limit (the CLI shows it in its progress line)."""
    logger.info("waiting %.0f s for the rate limit", seconds, extra={"rate_limit_wait": seconds})


def valid_pause(seconds: float) -> float | None:
    """A pause as kept: at most MAX_PAUSE; None for one to ignore (non-finite, not positive)."""
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return min(float(seconds), MAX_PAUSE)


class _TokenState:
    """One token's slots: those held until their answer, answer stamps, pause, waiters."""

    __slots__ = ("answers", "changed", "held", "paused_until", "queue")

    def __init__(self, windows: int) -> None:
        # When each answered request came back, per window, oldest first.
        self.answers: tuple[list[float], ...] = tuple([] for _ in range(windows))
        # When each request still without its answer was let go, oldest first.
        self.held: deque[float] = deque()
        self.paused_until = 0.0
        # Waiters in the order they asked: only the first may take a slot.
        self.queue: deque[object] = deque()
        # Resolved (and dropped) whenever a slot is taken or freed, a waiter leaves or a
        # pause arrives: the waiters look again.
        self.changed: asyncio.Future[None] | None = None

    def notify(self) -> None:
        changed, self.changed = self.changed, None
        if changed is not None and not changed.done():
            changed.set_result(None)


class Governor:
    """The in-process RateLimiter: sliding windows per key, each request holding its slot
    until its answer (the protocol's rule), and shared pauses.

    Waiters are served first come, first served: the first in line sleeps until the moment
    the windows free (or, while that depends on answers still to come, until an answer
    arrives) and takes its slot when it really leaves; the others wait their turn. Time is
    `clock`'s monotonic time: a wall clock stepping back cannot stall a window. The state of
    a token idle for longer than its longest window is forgotten.
    """

    def __init__(self, windows: Sequence[RateWindow], *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._windows = rate_windows(windows, "windows")
        self._clock = clock
        self._states: dict[str, _TokenState] = {}
        self._longest = max((w.seconds for w in self._windows), default=0.0) + MAX_HOLD
        self._sweep_at = 0.0

    def _state(self, key: str, now: float) -> _TokenState:
        if now >= self._sweep_at:
            self._forget_idle(now)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _TokenState(len(self._windows))
        return state

    def _forget_idle(self, now: float) -> None:
        """Drop the state of tokens with nothing held, counted, paused or waiting."""
        self._sweep_at = now + self._longest
        for key, state in list(self._states.items()):
            self._prune(state, now)
            if not (state.held or state.queue or any(state.answers)) and state.paused_until <= now:
                del self._states[key]

    def _prune(self, state: _TokenState, now: float) -> None:
        # A slot held past MAX_HOLD counts as answered then (its caller never said).
        while state.held and state.held[0] <= now - MAX_HOLD:
            given_up = state.held.popleft() + MAX_HOLD
            for answers in state.answers:
                bisect.insort(answers, given_up)
        for window, answers in zip(self._windows, state.answers, strict=True):
            gone = bisect.bisect_right(answers, now - window.seconds)
            if gone:
                del answers[:gone]

    def _free_at(self, state: _TokenState, now: float, ahead: int) -> tuple[float, bool]:
        """The earliest moment one more request fits every window, after `ahead` waiters;
        and whether it is certain (False: a lower bound, since held slots and waiters ahead
        free a window only once answered, plus the window's length)."""
        free, certain = max(now, state.paused_until), True
        busy = len(state.held) + ahead
        for window, answers in zip(self._windows, state.answers, strict=True):
            excess = busy + len(answers) - window.max_requests + 1
            if excess <= 0:
                continue
            if excess <= len(answers):
                free = max(free, answers[excess - 1] + window.seconds)
            else:
                free, certain = max(free, now + window.seconds), False
        return free, certain

    async def acquire(self, key: str, max_wait: float) -> float | None:
        now = self._clock.monotonic()
        if not self._windows:  # only pauses to keep: a key never paused needs no state
            paused = self._states.get(key)
            if paused is None or (not paused.queue and paused.paused_until <= now):
                return None
        state = self._state(key, now)
        if not state.queue:  # nobody waiting: a free slot is taken at once (the usual case)
            self._prune(state, now)
            if self._free_at(state, now, 0)[0] <= now:
                state.held.append(now)
                return None
        until = now + max_wait
        ticket = object()
        state.queue.append(ticket)
        announced = False
        try:
            while True:
                now = self._clock.monotonic()
                self._prune(state, now)
                ahead = state.queue.index(ticket)
                free, certain = self._free_at(state, now, ahead)
                if ahead == 0 and free <= now:
                    state.held.append(now)
                    return None
                if free > until:
                    return free - now
                if not announced:
                    announce_wait(free - now)
                    announced = True
                if ahead == 0 and certain:
                    await self._clock.sleep(free - now)
                else:
                    # Until the moment moves: an answer, a pause, a waiter ahead leaving;
                    # or, for a lower bound that grows with time, until it may pass `until`;
                    # or, first in line, until a slot never answered is given up.
                    timeout = math.inf if certain else until - free
                    if ahead == 0 and state.held:
                        timeout = min(timeout, state.held[0] + MAX_HOLD - now)
                    await self._changed(state, timeout)
        finally:
            state.queue.remove(ticket)
            state.notify()

    async def _changed(self, state: _TokenState, timeout: float) -> None:
        if state.changed is None:
            state.changed = asyncio.get_running_loop().create_future()
        changed = state.changed
        if math.isinf(timeout):
            await asyncio.shield(changed)
            return
        timer = asyncio.ensure_future(self._clock.sleep(max(timeout, _RECHECK)))
        try:
            await asyncio.wait({changed, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()

    async def answered(self, key: str) -> None:
        self.count_answer(key)

    async def pause(self, key: str, seconds: float) -> None:
        kept = valid_pause(seconds)
        if kept is None:
            return
        now = self._clock.monotonic()
        state = self._state(key, now)
        state.paused_until = max(state.paused_until, now + kept)
        state.notify()

    # -- what the Redis limiter keeps in process, to fall back on ---------------------------

    def count_taken(self, key: str) -> None:
        """Count one request of `key` let go elsewhere (by Redis), without waiting."""
        now = self._clock.monotonic()
        self._state(key, now).held.append(now)

    def count_answer(self, key: str) -> None:
        """Count the answer of one request of `key` (the protocol's `answered`)."""
        if not self._windows and key not in self._states:
            return  # no window to count in, and no slot held (see acquire)
        now = self._clock.monotonic()
        state = self._state(key, now)
        if state.held:
            state.held.popleft()  # the oldest: those left held then free no sooner
        for answers in state.answers:
            answers.append(now)
        state.notify()

    def recent(self, key: str) -> tuple[list[float], list[float]]:
        """How long ago (seconds) each held request of `key` left, and each counted answer
        came back (those of the longest window), for refilling a Redis that lost its keys."""
        now = self._clock.monotonic()
        state = self._states.get(key)
        if state is None:
            return [], []
        self._prune(state, now)
        longest: list[float] = max(state.answers, key=len) if state.answers else []
        return [now - t for t in state.held], [now - t for t in longest]
