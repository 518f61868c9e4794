"""The API's rate-limit headers read as plain values: pure functions, no I/O.

Every time a server gives (``retry-after`` as seconds or an HTTP date, ``ratelimit-reset``,
``Date``) is validated here and turned into a duration once: a stamp is measured against the
answer's own ``Date`` (the server's clock, so a host whose clock is off still waits the real
time), and every duration is clamped to ``[0, MAX_PAUSE]``: nothing a server says can crash a
later call or hold requests longer than an hour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ._models import RateLimit
from ._windows import MAX_PAUSE


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """A header holding a whole number, or None when it is absent or not one."""
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _stamp(value: float) -> datetime | None:
    """An epoch stamp as an aware datetime, or None when no datetime can hold it."""
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def _http_date(value: str | None) -> float | None:
    """An HTTP date (RFC 9110 §5.6.7) as epoch seconds, or None."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def clamp(seconds: float) -> float:
    """A duration a server asked for, within ``[0, MAX_PAUSE]`` (NaN counts as MAX_PAUSE)."""
    return min(max(seconds, 0.0), MAX_PAUSE) if not math.isnan(seconds) else MAX_PAUSE


def seconds_until(stamp: float, headers: Mapping[str, str], wall: float) -> float:
    """Seconds from the answer until `stamp` (epoch seconds), clamped to ``[0, MAX_PAUSE]``.

    Measured against the answer's ``Date`` (the server's clock); the local wall clock `wall`
    stands in only when the answer has no valid ``Date``, or when the stamp is further from
    it than MAX_PAUSE either way (a server whose clocks disagree with each other).
    """
    server_now = _http_date(headers.get("Date"))
    if server_now is not None and abs(stamp - server_now) <= MAX_PAUSE:
        return clamp(stamp - server_now)
    return clamp(stamp - wall)


def moment(wall: float, seconds: float) -> datetime | None:
    """The local time `seconds` after `wall`, for an error's ``reset_at``; never overflows."""
    return _stamp(wall + clamp(seconds))


def reset_time(headers: Mapping[str, str]) -> datetime | None:
    """When the API says requests free up: `ratelimit-reset` (epoch seconds), if sane."""
    value = header_int(headers, "ratelimit-reset")
    return None if value is None else _stamp(value)


def reset_in(headers: Mapping[str, str], wall: float) -> float | None:
    """Seconds until `ratelimit-reset` by the server's clock (clamped), or None without one."""
    value = header_int(headers, "ratelimit-reset")
    return None if value is None else seconds_until(value, headers, wall)


def retry_after(headers: Mapping[str, str], wall: float) -> float | None:
    """`retry-after` (seconds, or an HTTP date measured on the server's clock) as seconds
    within ``[0, MAX_PAUSE]``; None when absent, negative, NaN or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        return None if when is None else seconds_until(when, headers, wall)
    return None if math.isnan(seconds) or seconds < 0 else clamp(seconds)


def rate_limit_from(headers: Mapping[str, str]) -> RateLimit | None:
    """The `ratelimit-*` headers as a RateLimit, or None when the answer has none."""
    limit = header_int(headers, "ratelimit-limit")
    remaining = header_int(headers, "ratelimit-remaining")
    reset_at = reset_time(headers)
    if limit is None and remaining is None and reset_at is None:
        return None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset_at)
