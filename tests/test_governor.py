"""The in-process rate limiter: sliding windows per token, shared pauses, bounded waits."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

import do_images
from do_images._clock import Clock
from do_images._governor import MAX_HOLD, Governor
from do_images._windows import MAX_PAUSE, RateWindow
from do_images.testing import Emulator, Fault

from .support.fakes import FakeTime
from .support.scripted import scripted_server

FOREVER = math.inf
HOURLY = (5000, 3600.0)


def _governor(fake_time: FakeTime, *windows: tuple[int, float]) -> Governor:
    return Governor([RateWindow(*w) for w in windows], clock=fake_time)


async def _go(governor: Governor, key: str = "k", max_wait: float = FOREVER) -> None:
    """One request that is answered at once."""
    assert await governor.acquire(key, max_wait) is None
    await governor.answered(key)


async def _settle() -> None:
    for _ in range(20):  # let other tasks reach their waits
        await asyncio.sleep(0)


async def test_a_full_window_waits_until_its_oldest_answer_expires(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (3, 10.0))
    for _ in range(3):
        await _go(governor)
    assert fake_time.sleeps == []
    fake_time.now += 4
    await _go(governor)
    # No slack: the window is the server's, counted from each answer.
    assert fake_time.sleeps == [pytest.approx(6.0)]


async def test_every_window_is_kept(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (2, 1.0), (3, 60.0))
    for _ in range(4):
        await _go(governor)
    # 2 go at t=0, the 3rd waits a second for the short window, the 4th the long one.
    assert fake_time.sleeps == [pytest.approx(1.0), pytest.approx(59.0)]


async def test_no_windows_means_no_waiting(fake_time: FakeTime) -> None:
    governor = _governor(fake_time)
    for _ in range(1000):
        await _go(governor, max_wait=0.0)
    assert fake_time.sleeps == []


async def test_no_windows_still_keeps_a_pause(fake_time: FakeTime) -> None:
    governor = _governor(fake_time)
    await _go(governor)
    await governor.pause("k", 7.0)
    assert await governor.acquire("k", 1.0) == pytest.approx(7.0)  # too far: takes nothing
    await _go(governor)  # waits the pause out
    assert fake_time.sleeps == [pytest.approx(7.0)]
    await _go(governor)  # and then no more
    assert fake_time.sleeps == [pytest.approx(7.0)]


async def test_each_key_has_its_own_windows(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (1, 30.0))
    await _go(governor, "token-a", 0.0)
    await _go(governor, "token-b", 0.0)
    assert await governor.acquire("token-a", 0.0) == pytest.approx(30.0)


async def test_a_wait_past_max_wait_takes_nothing_and_does_not_sleep(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (1, 30.0))
    await _go(governor)
    assert await governor.acquire("k", 5.0) == pytest.approx(30.0)
    assert fake_time.sleeps == []
    # Nothing was taken by the refused call: the next one waits for the same slot.
    await _go(governor)
    assert fake_time.sleeps == [pytest.approx(30.0)]


async def test_a_slot_is_held_until_its_answer_then_for_the_window() -> None:
    governor = Governor([RateWindow(1, 0.3)])
    assert await governor.acquire("k", 0.0) is None
    # In flight: its window cannot free before it is answered and the window has passed.
    assert await governor.acquire("k", 0.1) == pytest.approx(0.3, abs=0.05)
    started = time.monotonic()
    waiting = asyncio.ensure_future(governor.acquire("k", 10.0))
    await asyncio.sleep(0.5)  # longer than the window: still held
    assert not waiting.done()
    answered_at = time.monotonic()
    await governor.answered("k")
    assert await waiting is None
    left = time.monotonic()
    assert left - answered_at >= 0.3 - 0.01
    assert left - started < 5


async def test_a_held_minute_window_is_waited_for_not_refused(fake_time: FakeTime) -> None:
    # The default-limits rule: a wait the per-minute window imposes is at most a minute plus
    # the time a request is in flight, within the default max_rate_limit_wait (120 s).
    fake = FakeTime(real_pause=0.2)
    governor = Governor([RateWindow(2, 60.0), RateWindow(*HOURLY)], clock=fake)
    for _ in range(2):
        assert await governor.acquire("k", 120.0) is None  # both in flight
    start = fake.now
    waiting = asyncio.ensure_future(governor.acquire("k", 120.0))
    await _settle()
    assert not waiting.done()  # not refused: the slot frees within a minute of an answer
    fake.now += 5
    for _ in range(2):
        await governor.answered("k")
    assert await waiting is None
    assert fake.now == pytest.approx(start + 65.0)
    # An hourly window full of requests in flight is an hour away at least: refused at once.
    hourly = Governor([RateWindow(1, 3600.0)], clock=fake)
    assert await hourly.acquire("k", 0.0) is None
    assert await hourly.acquire("k", 120.0) == pytest.approx(3600.0)


async def test_a_slot_never_answered_is_given_up_after_max_hold(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (1, 10.0))
    assert await governor.acquire("k", 0.0) is None  # its caller never reports the answer
    fake_time.now += MAX_HOLD
    # Counted as answered at MAX_HOLD, so it holds the window for 10 s more.
    assert await governor.acquire("k", 0.0) == pytest.approx(10.0)
    fake_time.now += 10
    assert await governor.acquire("k", 0.0) is None


async def test_a_waiter_behind_a_slot_never_answered_goes_after_max_hold(
    fake_time: FakeTime,
) -> None:
    governor = _governor(fake_time, (1, 10.0))
    start = fake_time.now
    assert await governor.acquire("k", 0.0) is None  # never answered
    assert await governor.acquire("k", FOREVER) is None  # no answer will wake it: bounded
    assert fake_time.now == pytest.approx(start + MAX_HOLD + 10.0)


async def test_a_pause_only_extends(fake_time: FakeTime) -> None:
    governor = _governor(fake_time)
    await governor.pause("k", 20.0)
    await governor.pause("k", 5.0)
    assert await governor.acquire("k", 10.0) == pytest.approx(20.0)
    await _go(governor)
    assert fake_time.sleeps == [pytest.approx(20.0)]


@pytest.mark.parametrize("seconds", [math.nan, -5.0, math.inf, -math.inf, 0.0])
async def test_a_pause_that_is_not_a_duration_is_ignored(
    fake_time: FakeTime, seconds: float
) -> None:
    governor = _governor(fake_time)
    await governor.pause("k", seconds)
    assert await governor.acquire("k", 0.0) is None


async def test_a_pause_is_never_longer_than_max_pause(fake_time: FakeTime) -> None:
    governor = _governor(fake_time)
    await governor.pause("k", 3e11)  # a hostile retry-after
    assert await governor.acquire("k", FOREVER) is None
    assert fake_time.sleeps == [pytest.approx(MAX_PAUSE)]


async def test_waiters_are_served_first_come_first_served() -> None:
    fake_time = FakeTime(real_pause=0.001)
    governor = _governor(fake_time, (1, 1.0))
    order: list[int] = []

    async def request(number: int) -> None:
        await _go(governor)
        order.append(number)

    await asyncio.gather(*(request(n) for n in range(6)))
    # A listing's next page (asked first) is never starved by pages asked after it.
    assert order == list(range(6))
    assert fake_time.now - 1_800_000_000.0 == pytest.approx(5.0)


async def test_cancelled_waiters_hold_nothing() -> None:
    governor = Governor([RateWindow(1, 0.3)])
    await _go(governor)
    waiters = [asyncio.ensure_future(governor.acquire("k", 60.0)) for _ in range(6)]
    await asyncio.sleep(0.05)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert all(waiter.cancelled() for waiter in waiters)
    # The six abandoned waits took no slot: the next call goes when the window frees.
    started = time.monotonic()
    assert await governor.acquire("k", 1.0) is None
    assert time.monotonic() - started < 1.0


async def test_a_refused_waiter_behind_others_holds_nothing(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (1, 30.0))
    await _go(governor)
    for _ in range(3):
        assert await governor.acquire("k", 1.0) == pytest.approx(30.0)
    await _go(governor)
    assert fake_time.sleeps == [pytest.approx(30.0)]


async def test_idle_tokens_are_forgotten(fake_time: FakeTime) -> None:
    governor = _governor(fake_time, (5, 1.0), (50, 60.0))
    for number in range(1000):
        await _go(governor, f"token-{number}")
    fake_time.now += 60 + MAX_HOLD + 1
    await _go(governor, "another")
    # Only the token in use is remembered: per-token state does not grow without bound.
    assert len(governor._states) == 1  # pyright: ignore[reportPrivateUsage]


def _client(url: object, fake_time: FakeTime, **options: object) -> do_images.Client:
    return do_images.Client(
        "t",
        base_url=url,  # type: ignore[arg-type]
        clock=fake_time,
        **options,  # type: ignore[arg-type]
    )


async def test_client_keeps_to_its_window_over_http(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    stored = emulator.add_image()
    async with _client(emulator.url, fake_time, rate_limits=((5, 1.0),)) as client:
        for _ in range(12):
            await client.images.get(stored.id)
    assert fake_time.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]
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
    assert fake_time.sleeps == [pytest.approx(3600.0)]
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

    class SteppingBack(Clock):
        def wall(self) -> float:  # the wall clock jumps back an hour after the first call
            return time.time() + next(steps, -3600.0)

    async with do_images.Client(
        "t", base_url=emulator.url, rate_limits=((2, 0.2),), clock=SteppingBack()
    ) as client:
        started = time.monotonic()
        for _ in range(6):
            await client.images.get(stored.id)
        elapsed = time.monotonic() - started
    # 6 requests at 2 per 0.2 s take about 0.4 s; a window on the wall clock would stall.
    assert 0.35 <= elapsed < 5


async def test_requests_held_by_a_pause_leave_within_the_window() -> None:
    # The emulator enforces 5 a second: one injected 429 pauses everything; the requests
    # that waited it out are counted when they really leave, so none of them draws a 429.
    async with Emulator(seed=False, rate_limits=((5, 1.0), HOURLY)) as limited:
        stored = limited.add_image()
        limited.inject(Fault(kind="status", status=429, headers={"retry-after": "3"}))
        async with do_images.Client("t", base_url=limited.url, rate_limits=((5, 1.0),)) as client:
            images = await asyncio.gather(*(client.images.get(stored.id) for _ in range(20)))
        statuses = [r.status for r in limited.requests]
    assert {image.id for image in images} == {stored.id}
    assert statuses.count(429) == 1  # the injected one, and no other
    assert statuses.count(200) == 20
