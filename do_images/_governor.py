"""The client-side rate-limit governor every request of a client passes through.

It keeps to sliding windows like DigitalOcean's own (250/minute, 5,000/hour per token),
so a crawl slows down before the API answers 429; and when the API does answer 429, or
reports no requests remaining, it pauses every request of the client until the limit frees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from ._errors import DeadlineExceededError


class Governor:
    """Admits requests within `windows` of `(max_requests, seconds)`; shared by one client."""

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        self._windows = tuple((int(limit), float(seconds)) for limit, seconds in windows)
        self._stamps: tuple[deque[float], ...] = tuple(deque() for _ in self._windows)
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0

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
