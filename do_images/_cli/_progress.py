"""Progress on stderr, shown only when stderr is a terminal (silent in pipes, logs and CI)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import TextIO

from ._text import cut, safe

TICK = 0.2


class Progress:
    """One status line on `stream`, rewritten in place; a no-op unless `stream` is a tty.

    Whoever writes elsewhere to the same terminal calls `clear` first, so the line never
    mixes with output or log lines.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.enabled = stream.isatty()
        self._shown = False
        self._held: str | None = None

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self._stream.fileno()).columns or 80
        except OSError:
            return 80

    def show(self, text: str) -> None:
        """Replace the status line with `text` (cut to the terminal's width)."""
        if self.enabled:
            # One row less than the width: a full row would wrap, and \r only rewinds a row.
            self._stream.write(f"\r\x1b[K{cut(safe(text), self._columns() - 1)}")
            self._stream.flush()
            self._shown = True

    def clear(self) -> None:
        """Erase the status line, if one is shown."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False

    def note(self, text: str) -> None:
        """`text` as a line of its own on the stream, terminal or not (status line cleared)."""
        self.clear()
        self._stream.write(safe(text) + "\n")
        self._stream.flush()

    @asynccontextmanager
    async def ticking(self, label: str) -> AsyncGenerator[None]:
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
