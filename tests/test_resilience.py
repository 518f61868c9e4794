"""Retries, timeouts, deadlines and cancellation over real HTTP, with an injected clock."""

from __future__ import annotations

import asyncio
import time

import pytest

import do_images
from do_images.testing import Emulator, Fault

from .conftest import FakeTime, leftover_tasks


@pytest.fixture
def fake_now() -> FakeTime:
    """A fake clock starting at the real time, so the emulator's reset headers make sense."""
    return FakeTime(start=time.time())


def _client(emulator: Emulator, fake: FakeTime, **options: object) -> do_images.Client:
    return do_images.Client(
        "t",
        base_url=emulator.url,
        rate_limits=(),
        sleep=fake.sleep,
        clock=fake.clock,
        jitter=lambda: 0.5,
        **options,  # type: ignore[arg-type]
    )


async def test_5xx_on_get_is_retried_with_backoff(emulator: Emulator, fake_now: FakeTime) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="status", status=503, times=2))
    async with _client(emulator, fake_now) as client:
        image = await client.images.get(stored["id"])
    assert image.id == stored["id"]
    assert [r.status for r in emulator.requests] == [503, 503, 200]
    assert fake_now.sleeps == [0.375, 0.75]


async def test_connection_drop_on_get_is_retried(emulator: Emulator, fake_now: FakeTime) -> None:
    stored = emulator.add_image()
    # aiohttp itself re-sends an idempotent request once when the server closes the
    # connection under it (RFC 9112 9.3.1); the second drop reaches the SDK's retry.
    emulator.inject(Fault(kind="drop", times=2))
    async with _client(emulator, fake_now) as client:
        assert (await client.images.get(stored["id"])).id == stored["id"]
    assert [r.fault for r in emulator.requests] == ["drop", "drop", None]
    assert fake_now.sleeps == [0.375]


@pytest.mark.parametrize("kind", ["status", "drop"])
async def test_post_is_not_retried_on_5xx_or_drop(
    emulator: Emulator, fake_now: FakeTime, kind: str
) -> None:
    emulator.inject(Fault(kind=kind, status=500, method="POST"))
    async with _client(emulator, fake_now) as client:
        with pytest.raises((do_images.ServerError, do_images.APIConnectionError)):
            await client.images.create(name="n", url="https://e.com/x.img", region="nyc3")
    assert len(emulator.requests) == 1
    assert fake_now.sleeps == []


async def test_post_is_retried_after_429_and_creates_once(
    emulator: Emulator, fake_now: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=429, method="POST", headers={"retry-after": "7"}))
    async with _client(emulator, fake_now) as client:
        image = await client.images.create(name="once", url="https://e.com/x.img", region="nyc3")
        names = [i.name async for i in client.images.list(private=True)]
    assert [r.status for r in emulator.requests if r.method == "POST"] == [429, 202]
    assert fake_now.sleeps == [7.0]
    assert names.count("once") == 1
    assert image.name == "once"


async def test_a_429_wait_past_the_cap_raises_at_once(
    emulator: Emulator, fake_now: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=429, headers={"retry-after": "3600"}))
    async with _client(emulator, fake_now, max_rate_limit_wait=60) as client:
        with pytest.raises(do_images.RateLimitError) as caught:
            await client.images.get(1)
    assert caught.value.retry_after == 3600
    assert caught.value.reset_at is not None
    assert fake_now.sleeps == []
    assert len(emulator.requests) == 1


async def test_max_retries_zero_means_one_attempt(emulator: Emulator, fake_now: FakeTime) -> None:
    emulator.inject(Fault(kind="status", status=502, times=None))
    async with _client(emulator, fake_now, max_retries=0) as client:
        with pytest.raises(do_images.ServerError):
            await client.images.get(1)
    assert len(emulator.requests) == 1


async def test_a_timed_out_get_is_retried(emulator: Emulator, fake_now: FakeTime) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="latency", delay=0.6))
    async with _client(emulator, fake_now, timeout=0.2) as client:
        image = await client.images.get(stored["id"])
    assert image.id == stored["id"]
    # The timed-out exchange was abandoned (so never logged as answered); the retry was.
    assert emulator.faults_served == 1
    assert len(emulator.requests) == 1
    assert fake_now.sleeps == [0.375]


async def test_with_options_overrides_per_call_and_shares_figures(
    emulator: Emulator, fake_now: FakeTime
) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="latency", delay=0.6, times=None))
    async with _client(emulator, fake_now, timeout=10) as client:
        quick = client.with_options(timeout=0.1, max_retries=1)
        with pytest.raises(do_images.APIConnectionError, match="timed out"):
            await quick.images.get(stored["id"])
        assert emulator.faults_served == 2
        assert client.rate_limit is quick.rate_limit
        emulator.clear_faults()
        assert (await quick.images.get(stored["id"])).id == stored["id"]
        assert client.rate_limit is not None


async def test_deadline_stops_retrying_with_the_last_error(
    emulator: Emulator, fake_now: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=503, times=None))
    start = fake_now.now
    async with _client(emulator, fake_now, max_retries=50) as client:
        with client.deadline(10), pytest.raises(do_images.ServerError):
            await client.images.get(1)
    assert fake_now.now - start <= 10
    # 0.375 + 0.75 + 1.5 + 3 = 5.625 s of backoff fit; the next 6 s would not.
    assert fake_now.sleeps == [0.375, 0.75, 1.5, 3.0]


async def test_deadline_bounds_a_wait(emulator: Emulator, fake_now: FakeTime) -> None:
    async with Emulator(seed=False, rate_limits=(), steps=10_000) as slow:
        image = slow.add_image(kind="custom", status="NEW")
        async with _client(slow, fake_now) as client:
            with client.deadline(20), pytest.raises(do_images.WaitTimeoutError):
                await client.images.wait(image["id"], poll_interval=5)
    assert sum(fake_now.sleeps) <= 20


async def test_cancelling_a_request_is_not_retried_nor_wrapped(emulator: Emulator) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="latency", delay=1.0))
    async with do_images.Client("t", base_url=emulator.url, rate_limits=()) as client:
        task = asyncio.create_task(client.images.get(stored["id"]))
        while emulator.faults_served == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)
        assert emulator.faults_served == 1
        assert emulator.requests == []
        # The connection went back usable: the next call works at once.
        emulator.clear_faults()
        assert (await client.images.get(stored["id"])).id == stored["id"]
    for _ in range(5):
        await asyncio.sleep(0)
    assert leftover_tasks() == set()


async def test_cancelling_a_wait(emulator: Emulator) -> None:
    image = emulator.add_image(kind="custom", status="NEW")
    emulator.set_image(image["id"], status="pending")
    async with do_images.Client("t", base_url=emulator.url, rate_limits=()) as client:
        task = asyncio.create_task(client.images.wait(image["id"], poll_interval=30))
        while not emulator.requests:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(emulator.requests) == 1
