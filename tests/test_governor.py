"""The in-process rate limiter: sliding windows per token, shared pauses, bounded waits."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

import do_images
from do_images._governor import MARGIN, Governor
from do_images.testing import Emulator, Fault

from .support.fakes import FakeTime
from .support.scripted import scripted_server

FOREVER = math.inf


def _governor(fake_time: FakeTime, *windows: tuple[int, float]) -> Governor:
    return Governor(windows, clock=fake_time.clock, sleep=fake_time.sleep)


async def test_a_full_window_waits_until_its_oldest_request_expires(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (3, 10.0))
    for _ in range(3):
        assert await governor.acquire("k", FOREVER) is None
    assert fake_time.sleeps == []
    fake_time.now += 4
    assert await governor.acquire("k", FOREVER) is None
    # Each window carries a 2% margin for the request's travel time.
    assert fake_time.sleeps == [pytest.approx(10 * (1 + MARGIN) - 4)]


async def test_every_window_is_kept(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (2, 1.0), (3, 60.0))
    for _ in range(4):
        await governor.acquire("k", FOREVER)
    # 2 go at t=0, the 3rd waits a second for the short window, the 4th the long one
    # (each window 2% longer, at most 0.5 s, for the request's travel time).
    assert fake_time.sleeps == [pytest.approx(1.02), pytest.approx(60.5 - 1.02)]


async def test_no_windows_means_no_waiting(fake_time: FakeTime) -> None:
    governor = _governor(fake_time)
    for _ in range(1000):
        await governor.acquire("k", 0.0)
    assert fake_time.sleeps == []


async def test_each_key_has_its_own_windows(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (1, 30.0))
    assert await governor.acquire("token-a", 0.0) is None
    assert await governor.acquire("token-b", 0.0) is None
    assert await governor.acquire("token-a", 0.0) == pytest.approx(30.5)


async def test_a_wait_past_max_wait_takes_nothing_and_does_not_sleep(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (1, 30.0))
    await governor.acquire("k", FOREVER)
    assert await governor.acquire("k", 5.0) == pytest.approx(30.5)
    assert fake_time.sleeps == []
    # Nothing was reserved by the refused call: the next one waits for the same slot.
    assert await governor.acquire("k", FOREVER) is None
    assert fake_time.sleeps == [pytest.approx(30.5)]


async def test_a_pause_only_extends(fake_time: FakeTime) -> None:
    governor = _governor(fake_time)
    await governor.pause("k", 20.0)
    await governor.pause("k", 5.0)
    assert await governor.acquire("k", 10.0) == pytest.approx(20.0)
    assert await governor.acquire("k", FOREVER) is None
    assert fake_time.sleeps == [pytest.approx(20.0)]


async def test_waiters_are_served_first_come_first_served() -> None:
    fake_time = FakeTime(real_pause=0.001)
    governor = _governor(fake_time, (1, 1.0))
    order: list[int] = []

    async def request(number: int) -> None:
        await governor.acquire("k", FOREVER)
        order.append(number)

    await asyncio.gather(*(request(n) for n in range(6)))
    # A listing's next page (asked first) is never starved by pages asked after it.
    assert order == list(range(6))


def _client(url: object, fake_time: FakeTime, **options: object) -> do_images.Client:
    return do_images.Client(
        "t",
        base_url=url,  # type: ignore[arg-type]
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        wall_clock=fake_time.clock,
        **options,  # type: ignore[arg-type]
    )


async def test_client_keeps_to_its_window_over_http(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    stored = emulator.add_image()
    async with _client(emulator.url, fake_time, rate_limits=((5, 1.0),)) as client:
        for _ in range(12):
            await client.images.get(stored.id)
    assert fake_time.sleeps == [pytest.approx(1.02), pytest.approx(1.02)]
    assert len(emulator.requests) == 12


async def test_one_429_pauses_every_request_of_the_client(emulator: Emulator) -> None:
    fake_time = FakeTime(real_pause=0.05)
    first, second = emulator.add_image(), emulator.add_image()
    emulator.inject(
        Fault(kind="status", status=429, path=f"/{first.id}$", headers={"retry-after": "30"})
    )
    async with _client(emulator.url, fake_time, rate_limits=()) as client:
        start = fake_time.now
        answered_at: list[float] = []

        async def after_the_429() -> do_images.Image:
            while client.rate_limit is None:
                await asyncio.sleep(0.001)
            image = await client.images.get(second.id)
            answered_at.append(fake_time.now)
            return image

        a, b = await asyncio.gather(client.images.get(first.id), after_the_429())
    assert (a.id, b.id) == (first.id, second.id)
    # The request that started during the pause was held behind it rather than
    # discovering the 429 by itself; the pause was slept once by each waiting request.
    assert fake_time.sleeps
    assert all(s <= 30.0 for s in fake_time.sleeps)
    assert answered_at[0] - start >= 30
    assert [r.status for r in emulator.requests].count(429) == 1


def _remaining_zero(reset: float) -> dict[str, str]:
    return {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}


async def test_no_requests_remaining_pauses_until_the_reset(fake_time: FakeTime) -> None:
    headers = _remaining_zero(int(fake_time.now) + 20)
    async with scripted_server(lambda r: (200, {"image": {"id": 1}}, headers)) as server:
        async with _client(server.url, fake_time, rate_limits=()) as client:
            await client.images.get(1)
            assert client.rate_limit is not None
            assert client.rate_limit.remaining == 0
            await client.images.get(1)
    assert fake_time.sleeps == [20.0]


async def test_a_reset_past_max_rate_limit_wait_raises_at_once(fake_time: FakeTime) -> None:
    reset = int(fake_time.now) + 40 * 60
    async with scripted_server(lambda r: (200, {"image": {"id": 1}}, _remaining_zero(reset))) as s:
        async with _client(s.url, fake_time, rate_limits=()) as client:
            await client.images.get(1)
            with pytest.raises(do_images.RateLimitError) as raised:
                await client.images.get(1)
    assert len(s.requests) == 1
    assert fake_time.sleeps == []
    assert raised.value.reset_at is not None
    assert raised.value.reset_at.timestamp() == pytest.approx(reset, abs=1)


async def test_a_429_with_a_far_reset_raises_at_once_and_holds_the_others(
    fake_time: FakeTime,
) -> None:
    reset = int(fake_time.now) + 40 * 60
    answer = (429, {"id": "too_many_requests", "message": "slow down"}, _remaining_zero(reset))
    async with scripted_server(lambda r: answer) as server:
        async with _client(server.url, fake_time, rate_limits=()) as client:
            for _ in range(3):
                with pytest.raises(do_images.RateLimitError) as raised:
                    await client.images.get(1)
    # Only the first call reached the server; the others were refused before sending.
    assert len(server.requests) == 1
    assert fake_time.sleeps == []
    assert raised.value.reset_at is not None
    assert raised.value.reset_at.timestamp() == pytest.approx(reset, abs=1)


async def test_a_full_client_window_raises_at_once_instead_of_sleeping_an_hour(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    stored = emulator.add_image()
    async with _client(emulator.url, fake_time, rate_limits=((3, 3600.0),)) as client:
        for _ in range(3):
            await client.images.get(stored.id)
        with pytest.raises(do_images.RateLimitError, match="max_rate_limit_wait") as raised:
            await client.images.get(stored.id)
        # A caller that allows the wait gets it.
        await client.with_options(max_rate_limit_wait=4000).images.get(stored.id)
    assert raised.value.request_id is None
    assert raised.value.reset_at is not None
    assert raised.value.reset_at.timestamp() == pytest.approx(fake_time.now, abs=1)
    assert fake_time.sleeps == [pytest.approx(3600.5)]
    assert len(emulator.requests) == 4


async def test_the_deadline_bounds_a_rate_limit_wait(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    stored = emulator.add_image()
    async with _client(emulator.url, fake_time, rate_limits=((1, 30.0),)) as client:
        await client.images.get(stored.id)
        with client.deadline(5), pytest.raises(do_images.DeadlineExceededError):
            await client.images.get(stored.id)
    assert fake_time.sleeps == []


async def test_windows_run_on_a_monotonic_clock_not_the_wall_clock(emulator: Emulator) -> None:
    stored = emulator.add_image()
    steps = iter([0.0, -3600.0])

    def stepping_back() -> float:  # the wall clock jumps back an hour after the first call
        return time.time() + next(steps, -3600.0)

    async with do_images.Client(
        "t", base_url=emulator.url, rate_limits=((2, 0.2),), wall_clock=stepping_back
    ) as client:
        started = time.monotonic()
        for _ in range(6):
            await client.images.get(stored.id)
        elapsed = time.monotonic() - started
    # 6 requests at 2 per 0.2 s take about 0.4 s; a window on the wall clock would stall.
    assert 0.35 <= elapsed < 5
