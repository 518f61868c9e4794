"""DigitalOcean's sliding-window rate limits per account and the ``ratelimit-*`` headers.

Windows are kept on ``time.monotonic()``; header times are converted to Unix epoch seconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable

import attrs

from do_images._windows import RateWindow, rate_windows

# Reported when limits are disabled, so every answer still carries the headers.
_NOMINAL_LIMIT = 5000


@attrs.frozen
class Verdict:
    """The outcome for one request: allowed or not, and its headers."""

    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """Sliding windows ``(max_requests, seconds)`` per account; rejected requests don't count."""

    def __init__(
        self,
        windows: Iterable[RateWindow | tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        checked = rate_windows(windows)  # nan, inf, 0 refused here, not answered as 500s later
        self._windows = sorted(((w.max_requests, w.seconds) for w in checked), key=lambda w: w[1])
        self._hits: dict[str, list[deque[float]]] = {}
        self._clock = clock
        self._wall = wall

    def _queues(self, account: str, now: float) -> list[deque[float]]:
        queues = self._hits.setdefault(account, [deque() for _ in self._windows])
        for (_, seconds), queue in zip(self._windows, queues, strict=True):
            while queue and queue[0] <= now - seconds:
                queue.popleft()
        return queues

    def _epoch(self, mono: float, now: float) -> int:
        return math.ceil(self._wall() + (mono - now))

    def _headers(self, queues: list[deque[float]], now: float) -> dict[str, str]:
        count, seconds = self._windows[-1]  # the longest window is the one reported
        queue = queues[-1]
        reset = self._epoch(queue[0] + seconds, now) if queue else self._epoch(now, now)
        return {
            "ratelimit-limit": str(count),
            "ratelimit-remaining": str(max(0, count - len(queue))),
            "ratelimit-reset": str(reset),
        }

    def peek(self, account: str | None) -> dict[str, str]:
        """Headers for an answer that is not counted (401s, faults)."""
        now = self._clock()
        if not self._windows:
            return self._disabled(now)
        if account is None:
            return self._headers([deque() for _ in self._windows], now)
        return self._headers(self._queues(account, now), now)

    def _disabled(self, now: float) -> dict[str, str]:
        limit = str(_NOMINAL_LIMIT)
        reset = str(self._epoch(now, now))
        return {"ratelimit-limit": limit, "ratelimit-remaining": limit, "ratelimit-reset": reset}

    def hit(self, account: str) -> Verdict:
        """Count a request for ``account`` if every window has room; else a 429 verdict."""
        now = self._clock()
        if not self._windows:
            return Verdict(True, self._disabled(now))
        queues = self._queues(account, now)
        full = [
            i
            for i, ((count, _), q) in enumerate(zip(self._windows, queues, strict=True))
            if len(q) >= count
        ]
        if full:
            headers = self._headers(queues, now)
            if 0 in full:  # the shortest (per-minute) window: DO adds retry-after
                wait = queues[0][0] + self._windows[0][1] - now
                headers["retry-after"] = str(max(1, math.ceil(wait)))
            return Verdict(False, headers)
        for queue in queues:
            queue.append(now)
        return Verdict(True, self._headers(queues, now))
