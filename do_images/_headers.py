"""The API's rate-limit headers read as plain values: pure functions, no I/O.

`ratelimit-reset` and an HTTP-date `retry-after` are wall-clock stamps; the transport turns
them into durations once, against the wall clock, and runs every wait on a monotonic clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ._models import RateLimit


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """A header holding a whole number, or None when it is absent or not one."""
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def reset_time(headers: Mapping[str, str]) -> datetime | None:
    """When the API says requests free up: `ratelimit-reset` (epoch seconds), if sane."""
    value = header_int(headers, "ratelimit-reset")
    try:
        return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def retry_after(headers: Mapping[str, str]) -> float | datetime | None:
    """`retry-after` as seconds, or as the aware datetime of an HTTP-date (RFC 9110 §10.2.3)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return seconds if 0 <= seconds and math.isfinite(seconds) else None


def rate_limit_from(headers: Mapping[str, str]) -> RateLimit | None:
    """The `ratelimit-*` headers as a RateLimit, or None when the answer has none."""
    limit = header_int(headers, "ratelimit-limit")
    remaining = header_int(headers, "ratelimit-remaining")
    reset_at = reset_time(headers)
    if limit is None and remaining is None and reset_at is None:
        return None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset_at)
