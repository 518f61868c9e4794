"""Time as the SDK sees it: one clock object (monotonic, wall, sleep, jitter) that every wait
goes through, and the caller's deadline it measures. Tests give a fake one."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

# The caller's overall deadline on the monotonic clock, set by Client.deadline and by waits;
# a context variable so that it follows a call into prefetch tasks.
_DEADLINE: ContextVar[float | None] = ContextVar("do_images_deadline", default=None)


class Clock:
    """The system's clocks. Subclass it (override any method) to run the SDK on other time.

    `monotonic` measures waits and windows; `wall` (epoch seconds) only reads what the API
    says about time, and only where the answer carries no ``Date`` of its own.
    """

    def monotonic(self) -> float:
        """Seconds on a clock that never steps back."""
        return time.monotonic()

    def wall(self) -> float:
        """Seconds since the epoch, as this host believes."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` (every wait the SDK makes goes through here)."""
        await asyncio.sleep(seconds)

    def jitter(self) -> float:
        """A random fraction in [0, 1) that spreads retries."""
        return random.random()

    def remaining(self) -> float | None:
        """Seconds left before the caller's deadline (None when there is none)."""
        deadline = _DEADLINE.get()
        return None if deadline is None else deadline - self.monotonic()

    @contextmanager
    def deadline(self, seconds: float) -> Generator[None, None, None]:
        """Bound everything inside to `seconds` from now; nested deadlines keep the earliest."""
        until = self.monotonic() + seconds
        outer = _DEADLINE.get()
        token = _DEADLINE.set(until if outer is None else min(outer, until))
        try:
            yield
        finally:
            _DEADLINE.reset(token)


SYSTEM_CLOCK = Clock()
"""The clock every client uses unless it is given another."""
