"""Polling until an image or action settles: one loop shared by both `wait` calls.

Each poll is an ordinary request, so it goes through the rate limiter and retries; it runs
under the wait's own deadline, so its request time, retries and rate-limit pauses all fit in
what is left of `timeout`. The interval grows by BACKOFF_FACTOR up to
`max(poll_interval, MAX_POLL_INTERVAL)`, which keeps a long import from spending the quota.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ._call import Transport
from ._errors import DeadlineExceededError, DigitalOceanError

T = TypeVar("T")
BACKOFF_FACTOR = 1.5
MAX_POLL_INTERVAL = 30.0
FIRST_POLL = 1.0


async def poll(
    fetch: Callable[[], Awaitable[T]],
    *,
    done: Callable[[T], bool],
    failed: Callable[[T], DigitalOceanError | None],
    timed_out: Callable[[T | None], DigitalOceanError],
    timeout: float | None,
    poll_interval: float,
    transport: Transport,
    what: str,
) -> T:
    """Fetch until `done`; raise what `failed` returns, or `timed_out(last)` past `timeout`
    (or past the caller's `Client.deadline`, whichever comes first)."""
    clock = transport.clock
    start = clock.monotonic()
    outer = clock.remaining()
    outer_deadline = None if outer is None else start + outer
    budgets = [b for b in (timeout, outer) if b is not None]
    deadline = start + min(budgets) if budgets else None
    # The first poll always gets FIRST_POLL seconds (within the caller's own deadline), so
    # that `wait(timeout=0)` looks once; a wait still ends within `timeout` + 1 s.
    first_deadline = deadline
    if timeout is not None and timeout < FIRST_POLL:
        first_deadline = start + FIRST_POLL
        if outer_deadline is not None:
            first_deadline = min(first_deadline, outer_deadline)
    interval = poll_interval
    ceiling = max(poll_interval, MAX_POLL_INTERVAL)
    current: T | None = None
    while True:
        until = first_deadline if current is None else deadline
        try:
            if until is None:
                current = await fetch()
            else:
                with clock.deadline(until - clock.monotonic()):
                    current = await fetch()
        except DeadlineExceededError:
            # The deadline ran out mid-poll: report it as this wait's timeout.
            raise timed_out(current) from None
        error = failed(current)
        if error is not None:
            raise error
        if done(current):
            return current
        delay = interval
        if deadline is not None:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise timed_out(current)
            # Poll once more right at the deadline rather than sleeping past it.
            delay = min(delay, remaining)
        with transport.stoppable(what):  # close() wakes a wait at once
            await clock.sleep(delay)
        interval = min(interval * BACKOFF_FACTOR, ceiling)
