"""Polling until an image or action settles: one loop shared by both `wait` calls.

Each poll is an ordinary request, so it goes through the rate-limit governor and retries.
The interval grows by BACKOFF_FACTOR up to `max(poll_interval, MAX_POLL_INTERVAL)`, which
keeps a long import from spending the token's quota.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ._errors import DeadlineExceededError, DigitalOceanError
from ._transport import Transport

T = TypeVar("T")
BACKOFF_FACTOR = 1.5
MAX_POLL_INTERVAL = 30.0


async def poll(
    fetch: Callable[[], Awaitable[T]],
    *,
    done: Callable[[T], bool],
    failed: Callable[[T], DigitalOceanError | None],
    timed_out: Callable[[T], DigitalOceanError],
    timeout: float | None,
    poll_interval: float,
    transport: Transport,
) -> T:
    """Fetch until `done`; raise what `failed` returns, or `timed_out(last)` past `timeout`
    (or past the caller's `Client.deadline`, whichever comes first)."""
    clock, sleep = transport.clock, transport.sleep
    budgets = [b for b in (timeout, transport.remaining()) if b is not None]
    deadline = clock() + min(budgets) if budgets else None
    interval = poll_interval
    ceiling = max(poll_interval, MAX_POLL_INTERVAL)
    current: T | None = None
    while True:
        try:
            current = await fetch()
        except DeadlineExceededError:
            # The caller's deadline ran out mid-poll: report it as this wait's timeout.
            if current is None:
                raise
            raise timed_out(current) from None
        error = failed(current)
        if error is not None:
            raise error
        if done(current):
            return current
        delay = interval
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise timed_out(current)
            # Poll once more right at the deadline rather than sleeping past it.
            delay = min(delay, remaining)
        await sleep(delay)
        interval = min(interval * BACKOFF_FACTOR, ceiling)
