"""The pure retry decision: which errors are retried, and the exact delays."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import do_images
from do_images._retry import BACKOFF_CAP, backoff, retry_delay

NOW = 1_800_000_000.0


def _rate_limited(retry_after: float | None = None, reset_in: float | None = None):  # type: ignore[no-untyped-def]
    reset_at = None
    if reset_in is not None:
        reset_at = datetime.fromtimestamp(NOW + reset_in, tz=timezone.utc)
    return do_images.RateLimitError(
        429, "too_many_requests", "slow down", None, reset_at, retry_after
    )


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [(1, 0.0, 0.25), (1, 1.0, 0.5), (2, 0.5, 0.75), (3, 0.0, 1.0), (5, 1.0, 8.0), (12, 0.0, 4.0)],
)
def test_backoff_is_exponential_jittered_and_capped(
    attempt: int, jitter: float, delay: float
) -> None:
    assert backoff(attempt, jitter) == delay
    assert backoff(attempt, jitter) <= BACKOFF_CAP


def test_429_waits_for_retry_after_first() -> None:
    error = _rate_limited(retry_after=7, reset_in=30)
    for method in ("GET", "POST", "PUT", "DELETE"):
        assert retry_delay(error, 1, method, now=NOW, jitter=0.5) == 7


def test_429_without_retry_after_waits_for_ratelimit_reset() -> None:
    assert retry_delay(_rate_limited(reset_in=42), 1, "POST", now=NOW, jitter=0.5) == 42


def test_429_with_neither_header_backs_off() -> None:
    assert retry_delay(_rate_limited(), 2, "GET", now=NOW, jitter=0.5) == 0.75


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_5xx_and_connection_errors_retry_idempotent_methods(method: str) -> None:
    server = do_images.ServerError(503, "server_error", "busy")
    dropped = do_images.APIConnectionError("dropped")
    assert retry_delay(server, 1, method, now=NOW, jitter=0.0) == 0.25
    assert retry_delay(dropped, 2, method, now=NOW, jitter=1.0) == 1.0


def test_post_is_never_retried_on_5xx_or_connection_errors() -> None:
    server = do_images.ServerError(500, "server_error", "oops")
    assert retry_delay(server, 1, "POST", now=NOW, jitter=0.5) is None
    assert retry_delay(do_images.APIConnectionError("x"), 1, "POST", now=NOW, jitter=0.5) is None


@pytest.mark.parametrize(
    "error",
    [
        do_images.NotFoundError(404, "not_found", "no"),
        do_images.AuthenticationError(401, "unauthorized", "no"),
        do_images.UnprocessableEntityError(422, "unprocessable_entity", "no"),
        do_images.APIError(400, "bad_request", "no"),
        do_images.ResponseDecodeError("bad body"),
    ],
)
def test_client_errors_are_final(error: do_images.DigitalOceanError) -> None:
    assert retry_delay(error, 1, "GET", now=NOW, jitter=0.5) is None
