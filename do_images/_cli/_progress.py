"""Progress on stderr, shown only when stderr is a terminal (silent in pipes, logs and CI)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

TICK = 0.2


class Progress:
    """One status line on `stream`, rewritten in place; a no-op unless `stream` is a tty."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.enabled = stream.isatty()
        self._shown = False

    def show(self, text: str) -> None:
        """Replace the status line with `text`."""
        if self.enabled:
            self._stream.write(f"\r\x1b[K{text}")
            self._stream.flush()
            self._shown = True

    def clear(self) -> None:
        """Erase the status line, if one is shown."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False

    @asynccontextmanager
    async def ticking(self, label: str) -> AsyncIterator[None]:
        """Show `label` with the seconds elapsed while the body runs (e.g. a wait)."""
        if not self.enabled:
            yield
            return
        start = time.monotonic()

        async def tick() -> None:
            while True:
                self.show(f"{label} … {time.monotonic() - start:.0f}s")
                await asyncio.sleep(TICK)

        task = asyncio.create_task(tick())
        try:
            yield
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            self.clear()
