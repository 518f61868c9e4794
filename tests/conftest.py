"""Shared fixtures: a real emulator on 127.0.0.1 and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import do_images
from do_images.testing import Emulator

from .support.fakes import TOKEN, FakeTime


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
        clock=fake_time,
    ) as client:
        yield client
