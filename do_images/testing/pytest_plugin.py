"""pytest plugin: the ``do_images_emulator`` fixture (enable with
``pytest_plugins = ["do_images.testing.pytest_plugin"]``; needs pytest-asyncio).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ._server import Emulator


@pytest_asyncio.fixture
async def do_images_emulator() -> AsyncIterator[Emulator]:
    """A started, seeded emulator, closed after the test."""
    async with Emulator() as emulator:
        yield emulator
