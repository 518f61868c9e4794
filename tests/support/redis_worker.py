"""One OS process of a fleet sharing a token: `python -m tests.support.redis_worker '<json>'`.

It says "ready", reads the fleet's common start time (plus its own `delay`), runs its part
against the emulator (through a real Client) or against the limiter directly, and prints one
JSON line: what it sent and when, each call's outcome, and what the SDK logged (the tests look
for the token in all of it).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import orjson
from redis.asyncio import Redis

import do_images
from do_images.redis import RedisRateLimiter


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


class Departures:
    """Wraps a limiter and notes the wall-clock moment each request is let go."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[float] = []

    async def acquire(self, key: str, max_wait: float) -> float | None:
        wait: float | None = await self.inner.acquire(key, max_wait)
        if wait is None:
            self.sent.append(time.time())
        return wait

    async def pause(self, key: str, seconds: float) -> None:
        await self.inner.pause(key, seconds)

    async def answered(self, key: str) -> None:
        await self.inner.answered(key)


async def _calls(client: do_images.Client, job: dict[str, Any], out: dict[str, Any]) -> None:
    async def one() -> None:
        start = time.time()
        entry: dict[str, Any] = {"start": start}
        try:
            if job.get("deadline") is not None:
                with client.deadline(job["deadline"]):
                    await client.images.get(job["image_id"])
            else:
                await client.images.get(job["image_id"])
            entry["ok"] = True
        except do_images.DigitalOceanError as exc:
            entry.update(ok=False, error=type(exc).__name__, message=str(exc))
            reset_at = getattr(exc, "reset_at", None)
            entry["reset_at"] = None if reset_at is None else reset_at.timestamp()
        entry["end"] = time.time()
        out["calls"].append(entry)

    async def task(count: int) -> None:
        for _ in range(count):
            await one()
            if job.get("interval"):
                await asyncio.sleep(job["interval"])

    if job.get("rounds"):  # every `period` seconds from the common start, `calls` at once
        for number in range(job["rounds"]):
            await asyncio.sleep(max(0.0, job["start_at"] + number * job["period"] - time.time()))
            await asyncio.gather(*(one() for _ in range(job["calls"])))
        return
    tasks = job.get("tasks", 1)
    await asyncio.gather(*(task(job["calls"] // tasks) for _ in range(tasks)))


async def _busy(after: float, seconds: float, every: float = 0.0) -> None:
    """Hold this process's event loop, as a busy host would: a waiter wakes late (again
    `every` seconds, if given, until cancelled)."""
    await asyncio.sleep(after)
    while True:
        time.sleep(seconds)  # noqa: ASYNC251 - blocking on purpose
        if not every:
            return
        await asyncio.sleep(every)


async def _direct(limiter: RedisRateLimiter, job: dict[str, Any], out: dict[str, Any]) -> None:
    busy = asyncio.ensure_future(_busy(*job["busy"])) if job.get("busy") else None
    for _ in range(job.get("calls", 1)):
        start = time.time()
        if job["mode"] == "pause":
            await limiter.pause(job["key"], job["seconds"])
            wait = None
        else:
            wait = await limiter.acquire(job["key"], job.get("max_wait", float("inf")))
            if wait is None and not job.get("hold"):
                await limiter.answered(job["key"])  # answered at once
        out["calls"].append({"start": start, "end": time.time(), "wait": wait})
    if busy is not None:
        await busy


async def main(job: dict[str, Any]) -> dict[str, Any]:
    recorder = Recorder()
    logger = logging.getLogger("do_images")
    logger.addHandler(recorder)
    logger.setLevel(logging.DEBUG)
    out: dict[str, Any] = {"calls": [], "sent": []}
    redis = None
    limiter: Any = None
    if job.get("redis_url"):
        redis = Redis.from_url(job["redis_url"], socket_connect_timeout=0.5, socket_timeout=0.5)
        limiter = RedisRateLimiter(
            redis,
            limits=[tuple(w) for w in job["limits"]],
            prefix=job["prefix"],
            max_hold=job.get("max_hold", 120.0),
        )
        await redis.ping()  # connected before the start, so that asks reach Redis in order
    # The fleet starts together: say ready, read the common start time, add this one's delay.
    print("ready", flush=True)
    start_at = job["start_at"] = float(sys.stdin.readline()) + job.get("delay", 0.0)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    try:
        if job.get("mode") in ("acquire", "pause"):
            await _direct(limiter, job, out)
        else:
            # The event loop blocked now and then, if asked.
            busy = asyncio.ensure_future(_busy(*job["busy"])) if job.get("busy") else None
            options: dict[str, Any] = {
                "base_url": job["base_url"],
                "max_rate_limit_wait": job.get("max_rate_limit_wait", 60.0),
            }
            if limiter is None:
                # The baseline: each process keeps the limits on its own.
                async with do_images.Client(
                    job["token"], rate_limits=[tuple(w) for w in job["limits"]], **options
                ) as client:
                    await _calls(client, job, out)
            else:
                departures = Departures(limiter)
                async with do_images.Client(
                    job["token"], rate_limiter=departures, **options
                ) as client:
                    await _calls(client, job, out)
                out["sent"] = departures.sent
            if busy is not None:
                busy.cancel()
    finally:
        if redis is not None:
            await redis.aclose()
    out["logs"] = recorder.lines
    return out


if __name__ == "__main__":
    result = asyncio.run(main(orjson.loads(sys.argv[1])))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
