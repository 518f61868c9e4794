"""Shared fixtures: a real emulator on 127.0.0.1 and clients pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import do_images
from do_images.testing import Emulator

TOKEN = "dop_v1_SECRET-token-4f2a9c-never-print-me"


class FakeTime:
    """An epoch clock that moves only when the SDK sleeps, and records every sleep.

    Sleepers that overlap wake together, as with a real clock: a sleep moves the clock to
    its own wake-up time unless another sleeper already moved it further.
    """

    def __init__(self, start: float = 1_800_000_000.0, real_pause: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.real_pause = real_pause  # lets other tasks act while a sleeper sleeps

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake = self.now + seconds
        await asyncio.sleep(self.real_pause)
        self.now = max(self.now, wake)


def leftover_tasks() -> set[asyncio.Task[object]]:
    """Tasks still alive besides the test itself and the in-process server's connections
    (its handlers, and the accepting of a connection the client opened and then dropped)."""
    return {
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task()
        and not getattr(task.get_coro(), "__qualname__", "").startswith(
            ("RequestHandler.", "BaseSelectorEventLoop._accept_connection")
        )
    }


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """An empty emulator: each test adds exactly the images it needs."""
    async with Emulator(seed=False, rate_limits=()) as emu:
        yield emu


@pytest.fixture
async def seeded() -> AsyncIterator[Emulator]:
    async with Emulator(rate_limits=()) as emu:
        yield emu


@pytest.fixture
async def client(emulator: Emulator, fake_time: FakeTime) -> AsyncIterator[do_images.Client]:
    async with do_images.Client(
        TOKEN,
        base_url=emulator.url,
        rate_limits=(),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=lambda: 0.5,
    ) as client:
        yield client
