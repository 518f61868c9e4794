"""The retry policy as pure functions: whether to retry an error, and after how long.

- 5xx answers, timeouts and connection errors: retried for idempotent methods only
  (GET, PUT, DELETE). DigitalOcean has no idempotency keys, so a re-sent POST that had
  reached the server could create a second image.
- 429: retried for every method (the API did not process the request), no sooner than
  `retry-after` (seconds or an HTTP date), else `ratelimit-reset`, else the backoff.
- A request that never left the process (its headers were never sent: no connection, or
  timed out while connecting) is retried like an idempotent one, even a POST.
- No wait is longer than `do_images._windows.MAX_PAUSE`, whatever the server said.
- Every retry waits at least the backoff's floor (its fixed half), even when the server
  says `retry-after: 0` or names a reset already past, so a retry can never be a burst.
- Backoff: exponential from BACKOFF_BASE, capped at BACKOFF_CAP, with "equal jitter"
  (half fixed, half random) so that concurrent clients spread out.
"""

from __future__ import annotations

from ._errors import APIConnectionError, DigitalOceanError, RateLimitError, ServerError
from ._headers import clamp

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


def backoff(attempt: int, jitter: float) -> float:
    """Delay before retry number `attempt` (1-based); `jitter` is a draw from [0, 1)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter


def backoff_floor(attempt: int) -> float:
    """The least any retry number `attempt` waits: the fixed half of its backoff."""
    return backoff(attempt, 0.0)


def rate_limit_delay(error: RateLimitError, now: float) -> float | None:
    """What the API asked for: `retry-after`, else the `ratelimit-reset` time; None if neither.

    `now` is the wall clock (epoch seconds): reset stamps and HTTP dates are wall-clock times.
    """
    if error.retry_after is not None:
        return clamp(error.retry_after)
    if error.reset_at is not None:
        return clamp(error.reset_at.timestamp() - now)
    return None


def retry_delay(
    error: DigitalOceanError,
    attempt: int,
    method: str,
    *,
    now: float,
    jitter: float,
    sent: bool = True,
) -> float | None:
    """Seconds to wait before retry number `attempt`, or None when the error is final.

    `now` is the wall clock, for the API's stamps; `sent` is False when the request never
    left the process; the caller enforces `max_retries`.
    """
    if isinstance(error, RateLimitError):
        asked = rate_limit_delay(error, now)
        return backoff(attempt, jitter) if asked is None else max(asked, backoff_floor(attempt))
    if isinstance(error, APIConnectionError) and not sent:
        return backoff(attempt, jitter)
    if isinstance(error, (ServerError, APIConnectionError)) and method in IDEMPOTENT_METHODS:
        return backoff(attempt, jitter)
    return None
