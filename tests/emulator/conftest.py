"""Fixtures for the emulator's own tests: started emulators and a plain aiohttp caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from emu_helpers import Api

from do_images.testing import Emulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as e:
        yield e


@pytest.fixture
async def empty() -> AsyncIterator[Emulator]:
    async with Emulator(seed=False) as e:
        yield e


@pytest.fixture
def api(session: aiohttp.ClientSession, emu: Emulator) -> Api:
    return Api(session, emu)


@pytest.fixture
def empty_api(session: aiohttp.ClientSession, empty: Emulator) -> Api:
    return Api(session, empty)
