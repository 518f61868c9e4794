"""Test doubles shared by the suite: the one fake clock, a token, and a leftover-task probe."""

from __future__ import annotations

import asyncio

from yarl import URL

import do_images
from do_images._clock import Clock
from do_images.testing import Emulator

TOKEN = "dop_v1_SECRET-token-4f2a9c-never-print-me"


class FakeTime(Clock):
    """A clock that moves only when the SDK sleeps, and records every sleep: the suite's one
    fake clock, a `do_images` Clock (monotonic and wall time are the same fake seconds, so a
    test can script the API's reset stamps against it; jitter is fixed: 0.5 unless told).

    Sleepers that overlap wake together, as with a real clock: a sleep moves the clock to
    its own wake-up time unless another sleeper already moved it further.
    """

    def __init__(
        self, start: float = 1_800_000_000.0, real_pause: float = 0.0, jitter: float = 0.5
    ) -> None:
        self.now = start
        self._jitter = jitter
        self.sleeps: list[float] = []
        self.real_pause = real_pause  # lets other tasks act while a sleeper sleeps

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now

    def jitter(self) -> float:
        return self._jitter

    def clock(self) -> float:
        """The fake seconds as a plain callable (for APIs that take a time function)."""
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


def loopback_client(url: URL, clock: Clock | None = None, **options: object) -> do_images.Client:
    """A client of a loopback server with no client-side limits (on `clock` when given)."""
    return do_images.Client(TOKEN, base_url=url, rate_limits=(), clock=clock, **options)  # type: ignore[arg-type]


def retrying_client(emulator: Emulator, fake: FakeTime, **options: object) -> do_images.Client:
    """A client of `emulator` on the fake clock, with no client-side limits and fixed jitter,
    so that retry tests can assert exact delays."""
    return do_images.Client(
        "t",
        base_url=emulator.url,
        rate_limits=(),
        clock=fake,
        **options,  # type: ignore[arg-type]
    )
