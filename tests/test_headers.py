"""The rate-limit headers read as plain values: a table, no server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from do_images import RateLimit
from do_images._headers import header_int, rate_limit_from, reset_time, retry_after

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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("", None),
        ("later", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", datetime(2026, 10, 21, 7, 28, tzinfo=timezone.utc)),
        ("Wed, 21 Oct 2026 07:28:00", datetime(2026, 10, 21, 7, 28, tzinfo=timezone.utc)),
        ("Wed, 99 Oct 2026 07:28:00 GMT", None),
    ],
)
def test_retry_after(value: str, expected: float | datetime | None) -> None:
    assert retry_after({"retry-after": value}) == expected


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
