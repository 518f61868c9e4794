"""The retry policy as pure functions: whether to retry an error, and after how long.

- 5xx answers, timeouts and connection errors: retried for idempotent methods only
  (GET, PUT, DELETE). DigitalOcean has no idempotency keys, so a re-sent POST that had
  reached the server could create a second image.
- 429: retried for every method (the API did not process the request), no sooner than
  `retry-after`, else `ratelimit-reset`, else the backoff.
- Backoff: exponential from BACKOFF_BASE, capped at BACKOFF_CAP, with "equal jitter"
  (half fixed, half random) so that concurrent clients spread out.
"""

from __future__ import annotations

from ._errors import APIConnectionError, DigitalOceanError, RateLimitError, ServerError

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


def backoff(attempt: int, jitter: float) -> float:
    """Delay before retry number `attempt` (1-based); `jitter` is a draw from [0, 1)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter


def rate_limit_delay(error: RateLimitError, now: float) -> float | None:
    """What the API asked for: `retry-after`, else the `ratelimit-reset` time; None if neither."""
    if error.retry_after is not None:
        return error.retry_after
    if error.reset_at is not None:
        return max(0.0, error.reset_at.timestamp() - now)
    return None


def retry_delay(
    error: DigitalOceanError, attempt: int, method: str, *, now: float, jitter: float
) -> float | None:
    """Seconds to wait before retry number `attempt`, or None when the error is final.

    `now` is the epoch time (for `ratelimit-reset`); the caller enforces `max_retries`.
    """
    if isinstance(error, RateLimitError):
        asked = rate_limit_delay(error, now)
        return backoff(attempt, jitter) if asked is None else asked
    if isinstance(error, (ServerError, APIConnectionError)) and method in IDEMPOTENT_METHODS:
        return backoff(attempt, jitter)
    return None
