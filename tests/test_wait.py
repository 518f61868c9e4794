"""A wait's timeout is a bound: it returns or raises within `timeout` + 1 s, whatever the
server does (slow answers, retries, a rate-limit pause), measured on the real clock."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

import do_images
from do_images.testing import Emulator

from .support.fakes import FakeTime, retrying_client
from .support.scripted import scripted_server

IMPORTING = {"image": {"id": 7, "status": "NEW"}}
ACTION = {"action": {"id": 9, "status": "in-progress", "type": "transfer"}}


async def _timed(call: object) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        await call  # type: ignore[misc]
    except do_images.DigitalOceanError as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


async def test_a_slow_server_cannot_stretch_a_wait() -> None:
    async def slow(request: web.Request) -> tuple[int, object, dict[str, str]]:
        await asyncio.sleep(3.5)  # past timeout + 1 s
        return 200, IMPORTING, {}

    async with scripted_server(slow) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            elapsed, error = await _timed(client.images.wait(7, timeout=1, poll_interval=0.2))
    assert isinstance(error, do_images.WaitTimeoutError)
    assert error.last is None
    assert elapsed < 2


async def test_retries_fit_in_what_is_left_of_the_timeout() -> None:
    answer = (503, {"id": "service_unavailable", "message": "busy"}, {})
    async with scripted_server(lambda r: answer) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            wait = client.image_actions.wait(7, 9, timeout=1.5, poll_interval=0.2)
            elapsed, error = await _timed(wait)
    # The last error seen, or the wait's own timeout: either way within the bound.
    assert isinstance(error, (do_images.ServerError, do_images.ActionTimeoutError))
    assert elapsed < 2.5
    assert len(server.requests) >= 2


async def test_a_rate_limit_pause_cannot_stretch_a_wait() -> None:
    reset = int(time.time()) + 3000
    headers = {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
    async with scripted_server(lambda r: (200, IMPORTING, headers)) as server:
        async with do_images.Client(
            "t", base_url=server.url, rate_limits=(), max_rate_limit_wait=10_000
        ) as client:
            elapsed, error = await _timed(client.images.wait(7, timeout=2, poll_interval=0.2))
    assert isinstance(error, do_images.WaitTimeoutError)
    assert isinstance(error.last, do_images.Image)
    assert error.last.status == "NEW"
    assert elapsed < 3
    assert len(server.requests) == 1


@pytest.mark.parametrize("poll_interval", [0.05, 0.3])
async def test_a_wait_that_succeeds_returns_the_settled_object(poll_interval: float) -> None:
    polls: list[int] = []

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        polls.append(1)
        status = "available" if len(polls) >= 3 else "NEW"
        return 200, {"image": {"id": 7, "status": status}}, {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            image = await client.images.wait(7, timeout=5, poll_interval=poll_interval)
    assert image.status == "available"
    assert len(polls) == 3


async def test_deadline_bounds_a_wait(emulator: Emulator, fake_time: FakeTime) -> None:
    async with Emulator(seed=False, rate_limits=(), steps=10_000) as slow:
        image = slow.add_image(kind="custom", status="NEW")
        async with retrying_client(slow, fake_time) as client:
            with client.deadline(20), pytest.raises(do_images.WaitTimeoutError):
                await client.images.wait(image.id, poll_interval=5)
    assert sum(fake_time.sleeps) <= 20


async def test_cancelling_a_wait(emulator: Emulator) -> None:
    image = emulator.add_image(kind="custom", status="NEW")
    emulator.set_image(image.id, status="pending")
    async with do_images.Client("t", base_url=emulator.url, rate_limits=()) as client:
        task = asyncio.create_task(client.images.wait(image.id, poll_interval=30))
        while not emulator.requests:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(emulator.requests) == 1


async def test_a_zero_timeout_looks_once() -> None:
    async with scripted_server(lambda r: (200, IMPORTING, {})) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            elapsed, error = await _timed(client.images.wait(7, timeout=0))
    assert isinstance(error, do_images.WaitTimeoutError)
    assert isinstance(error.last, do_images.Image)
    assert error.last.status == "NEW"
    assert len(server.requests) == 1
    assert elapsed < 1


# --- issue 15 class 11: close() wakes a wait at once ----------------------------------------


@pytest.mark.parametrize("which", ["images", "image_actions"])
async def test_close_wakes_a_sleeping_wait_at_once(which: str) -> None:
    answer = IMPORTING if which == "images" else ACTION
    async with scripted_server(lambda r: (200, answer, {})) as server:
        client = do_images.Client("t", base_url=server.url, rate_limits=())
        if which == "images":
            wait = asyncio.ensure_future(client.images.wait(7, poll_interval=600))
        else:
            wait = asyncio.ensure_future(client.image_actions.wait(7, 9, poll_interval=600))
        for _ in range(500):  # bounded: the first poll is answered within milliseconds
            if server.requests:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # now asleep until the next poll, ten minutes away
        started = time.monotonic()
        await client.close()
        async with asyncio.timeout(5):
            with pytest.raises(do_images.ClientClosedError):
                await wait
        assert time.monotonic() - started < 2
    assert len(server.requests) == 1
