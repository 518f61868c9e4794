"""The rate window: one validated `(max_requests, seconds)` type for the client, the Redis
limiter, the CLI and the emulator, and DigitalOcean's own limits, defined once."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import cast

import attrs


def _check_requests(instance: object, attribute: object, value: int) -> None:
    if not isinstance(cast(object, value), int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"a rate window's max_requests must be a whole number of 1 or more, got {value!r}"
        )


def _check_seconds(instance: object, attribute: object, value: float) -> None:
    if (
        not isinstance(cast(object, value), (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"a rate window's seconds must be a finite number above 0, got {value!r}")


@attrs.frozen
class RateWindow:
    """At most `max_requests` requests in any `seconds` (a sliding window)."""

    max_requests: int = attrs.field(validator=_check_requests)
    """How many requests the window lets through."""
    seconds: float = attrs.field(converter=float, validator=_check_seconds)
    """How long the window is, in seconds."""

    @classmethod
    def parse(cls, text: str) -> RateWindow:
        """``"250/60"`` → 250 requests per 60 seconds; ValueError says what is wrong."""
        requests, slash, seconds = text.partition("/")
        try:
            return cls(int(requests), float(seconds)) if slash else cls(int(text), 0.0)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"a rate window is REQUESTS/SECONDS such as 250/60, got {text!r}: {error}"
            ) from None


MAX_PAUSE = 3600.0
"""The longest pause any server-given time (``retry-after``, ``ratelimit-reset``) or stored
pause can impose, in seconds: longer or malformed values are clamped to it, never trusted."""

DIGITALOCEAN_LIMITS: tuple[RateWindow, ...] = (RateWindow(250, 60.0), RateWindow(5000, 3600.0))
"""DigitalOcean's limits per token: 250 requests a minute and 5,000 an hour."""


def rate_windows(
    windows: Iterable[RateWindow | tuple[int, float]], name: str = "rate_limits"
) -> tuple[RateWindow, ...]:
    """`windows` as RateWindows: each a RateWindow or a `(max_requests, seconds)` pair;
    anything else is an error naming `name`."""
    if isinstance(windows, (str, bytes)):
        raise TypeError(f"{name} must be (max_requests, seconds) pairs, not a string")
    result: list[RateWindow] = []
    for window in windows:
        if isinstance(window, RateWindow):
            result.append(window)
            continue
        if not (isinstance(cast(object, window), tuple) and len(window) == 2):
            raise TypeError(f"{name} must hold (max_requests, seconds) pairs, got {window!r}")
        try:
            result.append(RateWindow(*window))
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    return tuple(result)
