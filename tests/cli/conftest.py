"""Fixtures: an emulator per test and a runner pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from do_images.testing import Emulator

from .helpers import TOKEN, Result, arun

Cli = Callable[..., Awaitable[Result]]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as e:
        yield e


@pytest.fixture
def cli(emu: Emulator) -> Cli:
    """``await cli("images", "list")`` runs do-images against `emu` with a token."""

    async def call(*args: str) -> Result:
        return await arun("--base-url", str(emu.url), "--token", TOKEN, *args)

    return call
