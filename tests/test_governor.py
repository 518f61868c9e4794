"""The client-side rate-limit governor: sliding windows and shared pauses, with a fake clock."""

from __future__ import annotations

import asyncio

import pytest

import do_images
from do_images._governor import MARGIN, Governor
from do_images.testing import Emulator, Fault

from .conftest import FakeTime
from .scripted import scripted_server


async def test_a_full_window_waits_until_its_oldest_request_expires(fake_time: FakeTime) -> None:
    governor = Governor(((3, 10.0),), clock=fake_time.clock, sleep=fake_time.sleep)
    for _ in range(3):
        await governor.acquire()
    assert fake_time.sleeps == []
    fake_time.now += 4
    await governor.acquire()
    # Each window carries a 2% margin for the request's travel time.
    assert fake_time.sleeps == [pytest.approx(10 * (1 + MARGIN) - 4)]


async def test_every_window_is_kept(fake_time: FakeTime) -> None:
    governor = Governor(((2, 1.0), (3, 60.0)), clock=fake_time.clock, sleep=fake_time.sleep)
    for _ in range(4):
        await governor.acquire()
    # 2 go at t=0, the 3rd waits a second for the short window, the 4th the long one
    # (each window 2% longer, at most 0.5 s, for the request's travel time).
    assert fake_time.sleeps == [pytest.approx(1.02), pytest.approx(60.5 - 1.02)]


async def test_no_windows_means_no_waiting(fake_time: FakeTime) -> None:
    governor = Governor((), clock=fake_time.clock, sleep=fake_time.sleep)
    for _ in range(1000):
        await governor.acquire()
    assert fake_time.sleeps == []


async def test_a_budget_shorter_than_the_wait_fails_at_once(fake_time: FakeTime) -> None:
    governor = Governor(((1, 30.0),), clock=fake_time.clock, sleep=fake_time.sleep)
    await governor.acquire()
    with pytest.raises(do_images.DeadlineExceededError):
        await governor.acquire(budget=5.0)
    assert fake_time.sleeps == []


async def test_client_keeps_to_its_window_over_http(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    stored = emulator.add_image()
    async with do_images.Client(
        "t",
        base_url=emulator.url,
        rate_limits=((5, 1.0),),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    ) as client:
        for _ in range(12):
            await client.images.get(stored["id"])
    assert fake_time.sleeps == [pytest.approx(1.02), pytest.approx(1.02)]
    assert len(emulator.requests) == 12


async def test_one_429_pauses_every_request_of_the_client(emulator: Emulator) -> None:
    fake_time = FakeTime(real_pause=0.05)
    first, second = emulator.add_image(), emulator.add_image()
    emulator.inject(
        Fault(kind="status", status=429, path=f"/{first['id']}$", headers={"retry-after": "30"})
    )
    async with do_images.Client(
        "t", base_url=emulator.url, rate_limits=(), sleep=fake_time.sleep, clock=fake_time.clock
    ) as client:
        start = fake_time.now
        answered_at: list[float] = []

        async def after_the_429() -> do_images.Image:
            while client.rate_limit is None:
                await asyncio.sleep(0.001)
            image = await client.images.get(second["id"])
            answered_at.append(fake_time.now)
            return image

        a, b = await asyncio.gather(client.images.get(first["id"]), after_the_429())
    assert (a.id, b.id) == (first["id"], second["id"])
    # The retry slept through the pause, and the request that started during the pause was
    # held behind it (queued on the governor) rather than discovering the 429 by itself.
    assert fake_time.sleeps == [30.0]
    assert answered_at[0] - start >= 30
    assert [r.status for r in emulator.requests].count(429) == 1


async def test_no_requests_remaining_pauses_until_the_reset(fake_time: FakeTime) -> None:
    reset = int(fake_time.now) + 20
    headers = {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
    async with scripted_server(lambda r: (200, {"image": {"id": 1}}, headers)) as server:
        async with do_images.Client(
            "t", base_url=server.url, rate_limits=(), sleep=fake_time.sleep, clock=fake_time.clock
        ) as client:
            await client.images.get(1)
            assert client.rate_limit is not None
            assert client.rate_limit.remaining == 0
            await client.images.get(1)
    assert fake_time.sleeps == [20.0]


async def test_waiters_are_served_first_come_first_served() -> None:
    fake_time = FakeTime(real_pause=0.001)
    governor = Governor(((1, 1.0),), clock=fake_time.clock, sleep=fake_time.sleep)
    order: list[int] = []

    async def request(number: int) -> None:
        await governor.acquire()
        order.append(number)

    await asyncio.gather(*(request(n) for n in range(6)))
    # A listing's next page (asked first) is never starved by pages asked after it.
    assert order == list(range(6))
