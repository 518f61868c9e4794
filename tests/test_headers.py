"""The rate-limit headers read as plain values: a table, no server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from do_images import RateLimit
from do_images._headers import (
    header_int,
    moment,
    rate_limit_from,
    reset_in,
    reset_time,
    retry_after,
)
from do_images._windows import MAX_PAUSE

STAMP = 1_800_000_000
WHEN = datetime.fromtimestamp(STAMP, tz=timezone.utc)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ratelimit-reset": str(STAMP)}, WHEN),
        ({"ratelimit-reset": " 1800000000 "}, WHEN),
        ({}, None),
        ({"ratelimit-reset": ""}, None),
        ({"ratelimit-reset": "soon"}, None),
        ({"ratelimit-reset": "1.5e9"}, None),
        ({"ratelimit-reset": "9" * 40}, None),  # past any datetime: ignored, not a crash
    ],
)
def test_reset_time(headers: dict[str, str], expected: datetime | None) -> None:
    assert reset_time(headers) == expected


NOW = float(STAMP)
DATE = "Fri, 15 Jan 2027 08:00:00 GMT"  # STAMP as an HTTP date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", MAX_PAUSE),
        ("3e11", MAX_PAUSE),
        ("1e400", MAX_PAUSE),
        ("", None),
        ("later", None),
        ("Fri, 15 Jan 2027 08:00:20 GMT", 20.0),
        ("Fri, 15 Jan 2027 08:00:20", 20.0),
        ("Fri, 15 Jan 2027 07:00:00 GMT", 0.0),  # already past
        ("Fri, 15 Jan 9999 08:00:00 GMT", MAX_PAUSE),
        ("Wed, 99 Oct 2026 07:28:00 GMT", None),
    ],
)
def test_retry_after(value: str, expected: float | None) -> None:
    assert retry_after({"retry-after": value}, NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ratelimit-reset": str(STAMP + 20)}, 20.0),
        # The server's Date, not the host's clock, turns the stamp into a duration.
        ({"ratelimit-reset": str(STAMP + 620), "Date": "Fri, 15 Jan 2027 08:10:00 GMT"}, 20.0),
        ({"ratelimit-reset": str(STAMP - 620), "Date": "Fri, 15 Jan 2027 07:50:00 GMT"}, 0.0),
        ({"ratelimit-reset": str(STAMP + 20), "Date": "garbage"}, 20.0),
        ({"ratelimit-reset": str(STAMP + 20), "Date": "Fri, 15 Jan 9999 08:00:00 GMT"}, 20.0),
        ({"ratelimit-reset": str(STAMP + 10**9), "Date": DATE}, MAX_PAUSE),
        ({"ratelimit-reset": "9" * 40}, MAX_PAUSE),
        ({"ratelimit-reset": "-5"}, 0.0),
        ({"ratelimit-reset": "soon"}, None),
        ({}, None),
    ],
)
def test_reset_in(headers: dict[str, str], expected: float | None) -> None:
    assert reset_in(headers, NOW) == expected


def test_moment_never_overflows() -> None:
    assert moment(NOW, 1e300) == datetime.fromtimestamp(NOW + MAX_PAUSE, tz=timezone.utc)
    assert moment(NOW, float("nan")) == datetime.fromtimestamp(NOW + MAX_PAUSE, tz=timezone.utc)
    assert moment(NOW, -5) == datetime.fromtimestamp(NOW, tz=timezone.utc)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"x-other": "1"}, None),
        (
            {
                "ratelimit-limit": "5000",
                "ratelimit-remaining": "4999",
                "ratelimit-reset": str(STAMP),
            },
            RateLimit(limit=5000, remaining=4999, reset_at=WHEN),
        ),
        ({"ratelimit-remaining": "0"}, RateLimit(limit=None, remaining=0, reset_at=None)),
        (
            {"ratelimit-limit": "lots", "ratelimit-remaining": "x", "ratelimit-reset": "y"},
            None,
        ),
    ],
)
def test_rate_limit_from(headers: dict[str, str], expected: RateLimit | None) -> None:
    assert rate_limit_from(headers) == expected


def test_header_int_reads_only_whole_numbers() -> None:
    assert header_int({"n": "12"}, "n") == 12
    assert header_int({"n": "1.0"}, "n") is None
    assert header_int({}, "n") is None
