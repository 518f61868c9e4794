"""RedisRateLimiter against a real redis-server, with several OS processes sharing one token.

Each worker (`tests/support/redis_worker.py`) is its own Python process with its own limiter
and Client; the emulator runs here, so its request log and faults are at hand. Redis comes
from DO_IMAGES_REDIS_URL, else a `redis-server` started for the session; without either the
module is skipped (a failure when DO_IMAGES_REQUIRE_REDIS=1, as in .ci/run).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("redis", reason="the redis extra is not installed: uv sync --all-extras")

from redis.asyncio import Redis
from redis.exceptions import RedisError

from do_images._transport import token_fingerprint
from do_images.redis import RedisRateLimiter, kept_windows
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN
from .support.redis_server import HOW_TO_ENABLE, RedisServer, free_port, have_binary

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("DO_IMAGES_REQUIRE_REDIS") == "1"
KEY = token_fingerprint(TOKEN)
# The emulator reports DigitalOcean's hourly window in its headers, as the real API does.
HOURLY = (5000, 3600.0)


def kept(seconds: float) -> float:
    """How long the limiter keeps a window of `seconds` (its slack for the trip included)."""
    ((_, length),) = kept_windows([(1, seconds)])
    return length


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"DO_IMAGES_REQUIRE_REDIS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("DO_IMAGES_REDIS_URL")
    if url:
        yield url
        return
    if not have_binary():
        _unavailable(HOW_TO_ENABLE)
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    """Keys of one test only, in a Redis the session shares."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A redis-server this test alone uses, so it may stop and start it."""
    if not have_binary():
        _unavailable("stopping and restarting Redis needs the redis-server binary")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


async def fleet(jobs: list[dict[str, Any]], *, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Run one worker process per job, started together once all are ready; their results."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    processes = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.support.redis_worker", orjson.dumps(job).decode()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        for job in jobs
    ]
    try:
        ready = await asyncio.wait_for(
            asyncio.gather(*(p.stdout.readline() for p in processes if p.stdout)), timeout
        )
        start = f"{time.time() + 0.2}\n".encode() if ready == [b"ready\n"] * len(jobs) else b"x"
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate(start) for p in processes)), timeout
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    results = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-3000:]
        results.append(orjson.loads(out.splitlines()[-1]))
    return results


def _job(**fields: Any) -> dict[str, Any]:
    return {"token": TOKEN, **fields}


def _most_in_any_window(stamps: list[float], seconds: float) -> int:
    stamps = sorted(stamps)
    most, first = 0, 0
    for last, stamp in enumerate(stamps):
        while stamps[first] <= stamp - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


async def _dump(redis: Redis) -> list[bytes]:
    """Every key in the Redis and everything stored under it."""
    found: list[bytes] = []
    async for name in redis.scan_iter(count=1000):
        found.append(name)
        kind = await redis.type(name)
        if kind == b"zset":
            for member, score in await redis.zrange(name, 0, -1, withscores=True):
                found += [member, repr(score).encode()]
        elif kind == b"string":
            found.append(await redis.get(name) or b"")
        else:
            found.append(repr(await redis.dump(name)).encode())
    return found


# -- several processes, one token ------------------------------------------------------------


async def test_processes_share_the_windows(redis_url: str, prefix: str, redis: Redis) -> None:
    limits = [(10, 1.0)]
    async with Emulator(seed=False, rate_limits=(*limits, HOURLY)) as emulator:
        image = emulator.add_image()
        job = _job(
            redis_url=redis_url, prefix=prefix, limits=limits, base_url=str(emulator.url),
            image_id=image.id, calls=15, tasks=3,
        )  # fmt: skip
        started = time.time()
        results = await fleet([job] * 4)
        statuses = [r.status for r in emulator.requests]
    sent = [stamp for result in results for stamp in result["sent"]]
    assert all(call["ok"] for result in results for call in result["calls"])
    assert statuses.count(429) == 0
    assert len(statuses) == len(sent) == 60
    # Never more than 10 let go in any second, though 4 processes x 3 tasks asked at once.
    assert _most_in_any_window(sent, 1.0) == 10
    # 60 requests at 10 a second: the first 10 at once, the last 50 over 5 windows.
    assert max(sent) - min(sent) == pytest.approx(5 * kept(1.0), abs=0.25)
    assert time.time() - started < 12
    # While it ran, each window's keys held the stamps, named by the fingerprint.
    assert await redis.exists(f"{prefix}:{{{KEY}}}:10/1")


async def test_without_redis_the_same_fleet_draws_429s(prefix: str) -> None:
    # The baseline the test above is measured against: each process keeping to the limits on
    # its own lets four times too many through, and the emulator answers 429.
    limits = [(10, 1.0)]
    async with Emulator(seed=False, rate_limits=(*limits, HOURLY)) as emulator:
        image = emulator.add_image()
        job = _job(
            redis_url=None, prefix=prefix, limits=limits, base_url=str(emulator.url),
            image_id=image.id, calls=15, tasks=3,
        )  # fmt: skip
        results = await fleet([job] * 4)
        statuses = [r.status for r in emulator.requests]
    assert all(call["ok"] for result in results for call in result["calls"])
    assert statuses.count(429) >= 10


async def test_a_429_in_one_process_pauses_the_others(redis_url: str, prefix: str) -> None:
    async with Emulator(seed=False, rate_limits=((1000, 1.0), HOURLY)) as emulator:
        hit, other = emulator.add_image(), emulator.add_image()
        emulator.inject(
            Fault(kind="status", status=429, path=f"/{hit.id}$", headers={"retry-after": "2"})
        )
        common = {"redis_url": redis_url, "prefix": prefix, "limits": [(1000, 1.0)]}
        url = str(emulator.url)
        others = _job(**common, base_url=url, image_id=other.id, calls=30, interval=0.1)
        victim = _job(**common, base_url=url, image_id=hit.id, calls=1, delay=1.0)
        first, second, hurt = await fleet([others, others, victim])
        statuses = [r.status for r in emulator.requests]
    assert statuses.count(429) == 1
    assert hurt["calls"][0]["ok"]
    (answered_429_at, retried_at) = hurt["sent"]
    assert retried_at - answered_429_at >= 2.0
    for result in (first, second):
        assert all(call["ok"] for call in result["calls"])
        sent = result["sent"]
        # The 429 reached the other processes through Redis: they sent nothing for 2 s, then
        # went on (without the shared pause they send every 0.1 s throughout).
        assert [s for s in sent if s < answered_429_at]
        assert not [s for s in sent if answered_429_at + 0.1 < s < answered_429_at + 1.95]
        assert [s for s in sent if s > answered_429_at + 1.95]


async def test_first_come_first_served_across_processes(
    redis_url: str, prefix: str, redis: Redis
) -> None:
    limits = [(1, 0.3)]
    common = {"mode": "acquire", "redis_url": redis_url, "prefix": prefix, "limits": limits}
    jobs = [{**common, "key": KEY, "delay": 0.04 * i} for i in range(6)]
    # Processes started in a shuffled order ask 40 ms apart; one request fits in 0.3 s, so
    # all but the first wait, and they must be let go in the order they asked.
    results = await fleet(jobs[3:] + jobs[:3])
    calls = sorted((r["calls"][0] for r in results), key=lambda call: call["start"])
    # (A process the machine started late may ask within a few milliseconds of another:
    # only asks at least 20 ms apart have an order to keep.)
    for earlier, later in itertools.combinations(calls, 2):
        if later["start"] - earlier["start"] >= 0.02:
            assert earlier["end"] < later["end"]
    granted = sorted(call["end"] for call in calls)
    assert granted[-1] - granted[0] == pytest.approx(5 * kept(0.3), abs=0.15)


async def test_a_request_that_leaves_late_holds_back_the_next(redis_url: str, prefix: str) -> None:
    limits = [(1, 0.5)]  # one request per 0.65 s, with the travel slack
    common = {"mode": "acquire", "redis_url": redis_url, "prefix": prefix, "limits": limits}
    # The first process's second request is due at 0.65 s, but its host is busy from 0.55 s
    # to 0.95 s; the second process asked at 0.1 s and is due at 1.3 s.
    late, next_one = await fleet(
        [
            {**common, "key": KEY, "calls": 2, "busy": [0.55, 0.4]},
            {**common, "key": KEY, "delay": 0.1},
        ]
    )
    left_late = late["calls"][1]["end"]
    assert left_late - late["calls"][0]["end"] >= 0.9
    # It counted from when it really left, not from its reservation.
    assert next_one["calls"][0]["end"] - left_late >= kept(0.5) - 0.01


async def test_keys_expire_after_their_window(redis_url: str, prefix: str, redis: Redis) -> None:
    limits = [(5, 0.5), (8, 1.0)]
    common = {"redis_url": redis_url, "prefix": prefix, "limits": limits, "key": KEY}
    results = await fleet([_job(mode="acquire", calls=6, **common)] * 3)
    assert all(call["wait"] is None for result in results for call in result["calls"])
    await RedisRateLimiter(redis, limits=limits, prefix=prefix).pause(KEY, 0.5)
    names = sorted([name.decode() async for name in redis.scan_iter(f"{prefix}:*")])
    assert names == [
        f"{prefix}:{{{KEY}}}:5/0.5",
        f"{prefix}:{{{KEY}}}:8/1",
        f"{prefix}:{{{KEY}}}:pause",
    ]
    for name in names:
        # Each key lives until its last stamp has left the window, plus a second.
        assert 0 < await redis.pttl(name) <= (kept(1.0) + 1.0) * 1000 + 50
    for _ in range(60):  # bounded: 3 s
        if not [name async for name in redis.scan_iter(f"{prefix}:*")]:
            break
        await asyncio.sleep(0.05)
    assert not [name async for name in redis.scan_iter(f"{prefix}:*")]


async def test_the_token_is_in_no_key_value_or_log(
    redis_url: str, prefix: str, redis: Redis
) -> None:
    async with Emulator(seed=False, rate_limits=((5, 0.5), HOURLY)) as emulator:
        image = emulator.add_image()
        emulator.inject(Fault(kind="status", status=429, headers={"retry-after": "1"}))
        job = _job(
            redis_url=redis_url, prefix=prefix, limits=[(5, 0.5)], base_url=str(emulator.url),
            image_id=image.id, calls=8,
        )  # fmt: skip
        results = await fleet([job] * 2)
    stored = await _dump(redis)
    assert any(prefix.encode() in item for item in stored)  # what we look through is there
    assert any(KEY.encode() in item for item in stored)
    secret = TOKEN.encode()
    assert not [item for item in stored if secret in item]
    logged = [line for result in results for _, line in result["logs"]]
    assert any("waiting" in line for line in logged)
    assert not [line for line in logged if TOKEN in line]


async def test_a_wait_past_max_rate_limit_wait_fails_at_once(redis_url: str, prefix: str) -> None:
    limits = [(3, 30.0)]
    async with Emulator(seed=False, rate_limits=((3, 30.0), HOURLY)) as emulator:
        image = emulator.add_image()
        common = {"redis_url": redis_url, "prefix": prefix, "limits": limits}
        fill = _job(**common, base_url=str(emulator.url), image_id=image.id, calls=3)
        (filled,) = await fleet([fill])
        late = _job(
            **common, base_url=str(emulator.url), image_id=image.id, calls=1,
            max_rate_limit_wait=5.0,
        )  # fmt: skip
        in_time = {**late, "deadline": 2.0}
        refused, deadline = await fleet([late, in_time])
        statuses = [r.status for r in emulator.requests]
    assert all(call["ok"] for call in filled["calls"])
    # The full window is in Redis: other processes' calls fail at once, nothing is sent.
    assert statuses == [200, 200, 200]
    (call,) = refused["calls"]
    assert call["error"] == "RateLimitError"
    assert call["end"] - call["start"] < 0.5
    assert 20 < call["reset_at"] - call["end"] < kept(30.0) + 0.5
    (call,) = deadline["calls"]
    assert call["error"] == "DeadlineExceededError"
    assert call["end"] - call["start"] < 0.5


async def test_redis_down_then_up(own_server: RedisServer, prefix: str) -> None:
    async with Emulator(seed=False, rate_limits=((10, 1.0), HOURLY)) as emulator:
        image = emulator.add_image()
        job = _job(
            redis_url=own_server.url, prefix=prefix, limits=[(10, 1.0)],
            base_url=str(emulator.url), image_id=image.id, calls=50,
        )  # fmt: skip
        run = asyncio.ensure_future(fleet([job, job], timeout=30))
        probe = Redis.from_url(own_server.url, socket_connect_timeout=0.5)
        try:
            assert await _wait_for_keys(probe, prefix), "the workers never reached Redis"
            own_server.stop()
            await asyncio.sleep(1.5)
            own_server.start()  # the same port, and empty: no persistence
            back = await _wait_for_keys(probe, prefix)
            results = await run
        finally:
            run.cancel()
            await probe.aclose()
    assert back, "the workers did not return to Redis"
    for result in results:
        assert [call["ok"] for call in result["calls"]] == [True] * 50
        said = [(level, line) for level, line in result["logs"] if "Redis" in line]
        # One warning for the outage (not one per request), one line when Redis is back.
        assert [level for level, _ in said] == ["WARNING", "INFO"]
        assert "Redis is unreachable" in said[0][1]
        assert "Redis answers again" in said[1][1]


async def _wait_for_keys(redis: Redis, prefix: str) -> bool:
    for _ in range(100):  # bounded: 5 s
        try:
            if [name async for name in redis.scan_iter(f"{prefix}:*")]:
                return True
        except RedisError:
            pass  # the probe's connection died with the server it talked to
        await asyncio.sleep(0.05)
    return False


# -- one process, the finer points -----------------------------------------------------------


async def test_a_pause_moves_a_reservation_made_before_it(redis: Redis, prefix: str) -> None:
    first = RedisRateLimiter(redis, limits=[(1, 0.5)], prefix=prefix)
    second = RedisRateLimiter(redis, limits=[(1, 0.5)], prefix=prefix)
    assert await first.acquire(KEY, 0.0) is None
    started = time.monotonic()
    waiting = asyncio.ensure_future(first.acquire(KEY, 10.0))  # reserved 0.65 s ahead
    await asyncio.sleep(0.2)
    await second.pause(KEY, 1.0)  # a 429 elsewhere, after the reservation was made
    assert await waiting is None
    assert time.monotonic() - started >= 1.2 - 0.02


async def test_a_cancelled_wait_gives_its_slot_back(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(1, 0.5)], prefix=prefix)
    window = limiter.keys(KEY)[1]
    assert await limiter.acquire(KEY, 0.0) is None
    waiting = asyncio.ensure_future(limiter.acquire(KEY, 10.0))
    await asyncio.sleep(0.1)
    assert await redis.zcard(window) == 2
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await redis.zcard(window) == 1


async def test_a_refused_slot_takes_nothing(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(2, 5.0)], prefix=prefix)
    assert await limiter.acquire(KEY, 0.0) is None
    assert await limiter.acquire(KEY, 0.0) is None
    wait = await limiter.acquire(KEY, 1.0)
    assert wait == pytest.approx(kept(5.0), abs=0.05)
    assert await redis.zcard(limiter.keys(KEY)[1]) == 2
    await limiter.pause(KEY, 30.0)
    assert await limiter.acquire(KEY, 1.0) == pytest.approx(30.0, abs=0.1)
    await limiter.pause(KEY, 1.0)  # a shorter pause never shortens a longer one
    assert await limiter.acquire(KEY, 1.0) == pytest.approx(30.0, abs=0.1)


async def test_tokens_keep_separate_windows(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(1, 5.0)], prefix=prefix)
    other = token_fingerprint("another-token")
    assert await limiter.acquire(KEY, 0.0) is None
    assert await limiter.acquire(other, 0.0) is None
    assert await limiter.acquire(KEY, 0.0) is not None


async def test_an_unreachable_redis_falls_back_with_one_warning(
    caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    dead = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    limiter = RedisRateLimiter(dead, limits=[(3, 0.5)], prefix=prefix)
    caplog.set_level(logging.INFO, logger="do_images")
    started = time.monotonic()
    for _ in range(6):
        assert await limiter.acquire(KEY, 10.0) is None
    # In-process limits still hold: the second three waited for the window.
    assert time.monotonic() - started >= 0.5
    assert not limiter.using_redis
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()
    await dead.aclose()


async def test_limits_and_prefix_are_checked(redis: Redis) -> None:
    for limits in ([(0, 1.0)], [(1, 0.0)], [(1, float("inf"))], [(True, 1.0)], [(1,)]):
        with pytest.raises(ValueError, match="limits"):
            RedisRateLimiter(redis, limits=limits)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        RedisRateLimiter(redis, prefix="")
    assert "SECRET" not in repr(RedisRateLimiter(redis))


def test_importing_do_images_does_not_import_redis() -> None:
    code = "import sys, do_images; sys.exit(int('redis' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0
