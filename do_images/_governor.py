"""The client-side rate-limit governor every request of a client passes through.

It keeps to sliding windows like DigitalOcean's own (250/minute, 5,000/hour per token),
so a crawl slows down before the API answers 429; and when the API does answer 429, or
reports no requests remaining, it pauses every request of the client until the limit frees.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from ._errors import DeadlineExceededError

# The API counts a request when it arrives, we when it leaves; a little slack on each window
# keeps a request from arriving a moment before the server's window has moved on.
MARGIN = 0.02
MAX_MARGIN = 0.5


class Governor:
    """Admits requests within `windows` of `(max_requests, seconds)`; shared by one client."""

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        self._windows = tuple(
            (int(limit), float(seconds) + min(MAX_MARGIN, seconds * MARGIN))
            for limit, seconds in windows
        )
        self._stamps: tuple[deque[float], ...] = tuple(deque() for _ in self._windows)
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._queue = asyncio.Lock()

    def wait_time(self) -> float:
        """Seconds until one more request may go (0 when it may go now)."""
        now = self._clock()
        wait = self._paused_until - now
        for (limit, seconds), stamps in zip(self._windows, self._stamps, strict=True):
            while stamps and stamps[0] <= now - seconds:
                stamps.popleft()
            if len(stamps) >= limit:
                wait = max(wait, stamps[len(stamps) - limit] + seconds - now)
        return wait

    async def acquire(self, budget: float | None = None) -> None:
        """Wait until a request may go, then count it in every window.

        Raises DeadlineExceededError at once if that is more than `budget` seconds away.
        """
        if self.wait_time() > 0:
            # First come, first served: waiters queue on the (fair) lock, so the page a
            # listing needs next is not starved by pages requested after it.
            async with self._queue:
                while (wait := self.wait_time()) > 0:
                    if budget is not None and wait >= budget:
                        raise DeadlineExceededError(
                            f"the rate limit frees a request in {wait:.1f}s, after the deadline"
                        )
                    await self._sleep(wait)
                    budget = None if budget is None else budget - wait
        now = self._clock()
        for stamps in self._stamps:
            stamps.append(now)

    def pause_until(self, until: float) -> None:
        """Hold every request of the client until the epoch time `until` (after a 429)."""
        self._paused_until = max(self._paused_until, until)
