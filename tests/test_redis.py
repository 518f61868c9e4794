"""RedisRateLimiter against a real redis-server, with several OS processes sharing one token.

Each worker (`tests/support/redis_worker.py`) is its own Python process with its own limiter
and Client; the emulator runs here, so its request log and faults are at hand. Redis comes
from DO_IMAGES_REDIS_URL, else a `redis-server` started for the session; without either the
module is skipped (a failure when DO_IMAGES_REQUIRE_REDIS=1, as in .ci/run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("redis", reason="the redis extra is not installed: uv sync --all-extras")

from redis.asyncio import Redis
from redis.exceptions import RedisError

import do_images
from do_images._call import token_fingerprint
from do_images._windows import MAX_PAUSE
from do_images.redis import RedisCheckpoints, RedisRateLimiter
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN
from .support.redis_server import (
    RedisServer,
    free_port,
    have_binary,
    redis_url_for_tests,
)

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("DO_IMAGES_REQUIRE_REDIS") == "1"
KEY = token_fingerprint(TOKEN)
# The emulator reports DigitalOcean's hourly window in its headers, as the real API does.
HOURLY = (5000, 3600.0)


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"DO_IMAGES_REQUIRE_REDIS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    yield from redis_url_for_tests()


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
        results = await fleet([job] * 4)
        statuses = [r.status for r in emulator.requests]
    sent = [stamp for result in results for stamp in result["sent"]]
    assert all(call["ok"] for result in results for call in result["calls"])
    assert statuses.count(429) == 0
    assert len(statuses) == len(sent) == 60
    # Never more than 10 let go in any second, though 4 processes x 3 tasks asked at once.
    assert _most_in_any_window(sent, 1.0) == 10
    # 60 requests at 10 a second: the first 10 at once, the last 50 over 5 windows (each
    # counted from the answers, a few milliseconds later).
    assert 5.0 - 0.05 <= max(sent) - min(sent) < 5.0 + 2.0
    # While it ran, each window's keys held the stamps, named by the fingerprint.
    assert await redis.exists(f"{prefix}:{{{KEY}}}:10/1")
    assert not await redis.zcard(f"{prefix}:{{{KEY}}}:held")  # every slot was answered


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


async def test_idle_tokens_are_forgotten(redis_url: str, prefix: str, redis: Redis) -> None:
    limits = [(5, 0.5), (8, 1.0)]
    common = {"redis_url": redis_url, "prefix": prefix, "limits": limits, "key": KEY}
    results = await fleet([_job(mode="acquire", calls=6, max_hold=0.5, **common)] * 3)
    assert all(call["wait"] is None for result in results for call in result["calls"])
    limiter = RedisRateLimiter(redis, limits=limits, prefix=prefix, max_hold=0.5)
    await limiter.pause(KEY, 0.5)
    names = sorted([name.decode() async for name in redis.scan_iter(f"{prefix}:*")])
    kept = [f"{prefix}:{{{KEY}}}:{name}" for name in ("5/0.5", "8/1", "pause", "seen")]
    assert set(kept[2:]) <= set(names) <= set(kept)  # (a window's key goes with its answers)
    for name in names:
        # Each key lives the longest window plus max_hold (plus a second) after its last use.
        assert 0 < await redis.pttl(name) <= (1.0 + 0.5 + 1.0) * 1000 + 50
    for _ in range(100):  # bounded: 5 s
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
    assert 20 < call["reset_at"] - call["end"] < 30.0 + 0.5
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
        assert "Redis failed" in said[0][1]
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


# -- under load: a busy machine, a slow Redis, a blocked event loop ---------------------------

# A busy process: spins for at most the given seconds (and is killed when its test ends).
SPIN = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end: pass"
)


@contextlib.asynccontextmanager
async def machine_under_load(slow_redis: str | None = None) -> AsyncGenerator[None]:
    """As many spinning processes as there are cores; with `slow_redis`, that Redis sleeps
    50 ms (DEBUG SLEEP) every quarter of a second."""
    spinners = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", SPIN, "180")
        for _ in range(os.cpu_count() or 2)
    ]

    async def slow_down(url: str) -> None:
        admin = Redis.from_url(url)
        try:
            while True:
                await admin.execute_command("DEBUG", "SLEEP", "0.05")
                await asyncio.sleep(0.25)
        finally:
            await admin.aclose()

    slower = asyncio.ensure_future(slow_down(slow_redis)) if slow_redis else None
    try:
        yield
    finally:
        if slower is not None:
            slower.cancel()
            await asyncio.gather(slower, return_exceptions=True)
        for spinner in spinners:
            spinner.kill()
            await spinner.wait()


async def test_a_fleet_on_a_loaded_machine_draws_no_429(
    own_server: RedisServer, prefix: str
) -> None:
    # Four processes, twenty rounds of 2 calls each every 0.6 s (13 a second asked, 10 a
    # second allowed), while every core is busy and Redis stalls now and then.
    limits = [(5, 0.5)]
    async with Emulator(seed=False, rate_limits=(*limits, HOURLY)) as emulator:
        image = emulator.add_image()
        job = _job(
            redis_url=own_server.url, prefix=prefix, limits=limits, base_url=str(emulator.url),
            image_id=image.id, rounds=20, period=0.6, calls=2,
        )  # fmt: skip
        async with machine_under_load(own_server.url):
            results = await fleet([job] * 4, timeout=150)
        statuses = [r.status for r in emulator.requests]
    assert [call["ok"] for result in results for call in result["calls"]] == [True] * 160
    assert statuses.count(429) == 0
    assert len(statuses) == 160


async def test_a_blocked_event_loop_on_a_loaded_machine_draws_no_429(prefix: str) -> None:
    # One process keeping the limits in process, its event loop blocked 0.1 s every 0.2 s.
    limits = [(5, 0.5)]
    async with Emulator(seed=False, rate_limits=(*limits, HOURLY)) as emulator:
        image = emulator.add_image()
        job = _job(
            redis_url=None, prefix=prefix, limits=limits, base_url=str(emulator.url),
            image_id=image.id, rounds=20, period=0.3, calls=4, busy=[0.05, 0.1, 0.2],
        )  # fmt: skip
        async with machine_under_load():
            (result,) = await fleet([job], timeout=150)
        statuses = [r.status for r in emulator.requests]
    assert [call["ok"] for call in result["calls"]] == [True] * 80
    assert statuses.count(429) == 0
    assert len(statuses) == 80


# -- a Redis that misbehaves -----------------------------------------------------------------


async def _go(limiter: RedisRateLimiter, times: int = 1) -> None:
    for _ in range(times):
        assert await limiter.acquire(KEY, 5.0) is None
        await limiter.answered(KEY)


@pytest.mark.parametrize(
    ("fault", "repair", "says"),
    [
        (["REPLICAOF", "127.0.0.1", "PORT"], ["REPLICAOF", "NO", "ONE"], "ReadOnlyError"),
        (
            ["CONFIG", "SET", "maxmemory", "1"],
            ["CONFIG", "SET", "maxmemory", "0"],
            "OutOfMemoryError",
        ),
    ],
    ids=["readonly", "out-of-memory"],
)
async def test_any_redis_error_falls_back_with_one_warning_and_comes_back(
    own_server: RedisServer,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
    fault: list[str],
    repair: list[str],
    says: str,
) -> None:
    caplog.set_level(logging.INFO, logger="do_images")
    redis, admin = Redis.from_url(own_server.url), Redis.from_url(own_server.url)
    try:
        await admin.config_set("maxmemory-policy", "noeviction")
        limiter = RedisRateLimiter(redis, limits=[(50, 1.0)], prefix=prefix)
        await _go(limiter, 3)
        assert limiter.using_redis
        await admin.execute_command(*(str(free_port()) if w == "PORT" else w for w in fault))
        for _ in range(5):  # every call works, on in-process limits
            await _go(limiter)
            await limiter.pause(KEY, 0.001)
        assert not limiter.using_redis
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert says in warnings[0]
        await admin.execute_command(*repair)
        for _ in range(60):  # bounded: 3 s (Redis is asked again a second after it failed)
            await _go(limiter)
            if limiter.using_redis:
                break
            await asyncio.sleep(0.05)
        assert limiter.using_redis
        assert any("answers again" in r.getMessage() for r in caplog.records)
        assert await admin.zcard(limiter.keys(KEY)[3]) >= 1  # counted in Redis again
    finally:
        await redis.aclose()
        await admin.aclose()


async def test_an_answer_to_a_request_sent_during_an_outage_frees_no_other_slot(
    own_server: RedisServer, prefix: str
) -> None:
    redis, admin = Redis.from_url(own_server.url), Redis.from_url(own_server.url)
    try:
        limiter = RedisRateLimiter(redis, limits=[(50, 1.0)], prefix=prefix)
        other = RedisRateLimiter(redis, limits=[(50, 1.0)], prefix=prefix)  # another process
        held = limiter.keys(KEY)[1]
        assert await other.acquire(KEY, 0.0) is None  # in flight, in Redis
        await admin.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
        assert await limiter.acquire(KEY, 0.0) is None  # taken in process: Redis failed
        assert not limiter.using_redis
        await admin.execute_command("REPLICAOF", "NO", "ONE")
        await asyncio.sleep(1.1)  # Redis is asked again a second after it failed
        await limiter.answered(KEY)
        assert limiter.using_redis
        # The other process's request is still held; this answer counts in the window.
        assert await redis.zcard(held) == 1
        assert await redis.zcard(limiter.keys(KEY)[3]) == 1
    finally:
        await redis.aclose()
        await admin.aclose()


async def test_keys_of_the_wrong_type_are_repaired(
    redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter(redis, limits=[(2, 1.0)], prefix=prefix)
    pause, held, seen, window = limiter.keys(KEY)
    await redis.set(held, "someone else's")
    await redis.rpush(window, "a", "list")
    await redis.hset(pause, "a", "hash")
    await redis.set(seen, "a string")
    await _go(limiter, 2)
    assert limiter.using_redis
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert await redis.type(window) == b"zset"
    assert await limiter.acquire(KEY, 0.0) is not None  # the window holds the two
    await limiter.pause(KEY, 0.3)
    assert await redis.type(pause) == b"string"


@pytest.mark.parametrize("stored", ["garbage", "nan", "inf", "-inf", "1e400", "-5", ""])
async def test_a_pause_that_is_not_a_time_is_dropped(
    redis: Redis, prefix: str, stored: str
) -> None:
    limiter = RedisRateLimiter(redis, limits=[(5, 1.0)], prefix=prefix)
    pause = limiter.keys(KEY)[0]
    await redis.set(pause, stored)
    assert await limiter.acquire(KEY, 0.0) is None
    assert limiter.using_redis
    assert not await redis.exists(pause) or await redis.get(pause) == b"-5"


async def test_a_huge_pause_is_clamped_to_max_pause(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(5, 1.0)], prefix=prefix)
    pause = limiter.keys(KEY)[0]
    # What an older version stored after retry-after: 3e11 (microseconds of Redis's clock).
    seconds, micros = await redis.time()
    await redis.set(pause, str((seconds + 3 * 10**11) * 10**6 + micros))
    assert await limiter.acquire(KEY, 0.0) == pytest.approx(MAX_PAUSE, abs=1)
    assert 0 < await redis.pttl(pause) <= MAX_PAUSE * 1000
    other = f"{prefix}-2"
    limiter = RedisRateLimiter(redis, limits=[(5, 1.0)], prefix=other)
    await limiter.pause(KEY, 3e11)  # a hostile retry-after, through the API
    assert await limiter.acquire(KEY, 0.0) == pytest.approx(MAX_PAUSE, abs=1)
    await limiter.pause(KEY, math.nan)
    await limiter.pause(KEY, -1.0)
    assert await limiter.acquire(KEY, 0.0) == pytest.approx(MAX_PAUSE, abs=1)


async def test_keys_lost_mid_walk_open_no_second_window(own_server: RedisServer) -> None:
    limits = [(5, 0.5)]
    redis = Redis.from_url(own_server.url)
    try:
        async with Emulator(seed=False, rate_limits=(*limits, HOURLY)) as emulator:
            image = emulator.add_image()
            limiter = RedisRateLimiter(redis, limits=limits, prefix="lost")
            async with do_images.Client(
                TOKEN, base_url=emulator.url, rate_limiter=limiter
            ) as client:
                for _ in range(3):
                    # A full window, then Redis loses every key (a restart, an eviction, a
                    # FLUSHDB): this process still remembers what it sent.
                    await asyncio.gather(*(client.images.get(image.id) for _ in range(5)))
                    await redis.flushdb()
            statuses = [r.status for r in emulator.requests]
    finally:
        await redis.aclose()
    assert statuses.count(429) == 0
    assert len(statuses) == 15
    assert limiter.using_redis


# -- one process, the finer points -----------------------------------------------------------


async def test_a_pause_holds_a_waiter_that_asked_before_it(redis: Redis, prefix: str) -> None:
    first = RedisRateLimiter(redis, limits=[(1, 0.5)], prefix=prefix)
    second = RedisRateLimiter(redis, limits=[(1, 0.5)], prefix=prefix)
    assert await first.acquire(KEY, 0.0) is None
    await first.answered(KEY)
    started = time.monotonic()
    waiting = asyncio.ensure_future(first.acquire(KEY, 10.0))  # due 0.5 s after the answer
    await asyncio.sleep(0.2)
    await second.pause(KEY, 1.0)  # a 429 elsewhere, after it began to wait
    assert await waiting is None
    assert time.monotonic() - started >= 1.2 - 0.02


async def test_a_slot_is_held_until_its_answer(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(1, 0.3)], prefix=prefix)
    other = RedisRateLimiter(redis, limits=[(1, 0.3)], prefix=prefix)  # another process
    held = limiter.keys(KEY)[1]
    assert await limiter.acquire(KEY, 0.0) is None
    assert await redis.zcard(held) == 1
    # In flight: the window frees no sooner than its answer plus the window.
    assert await other.acquire(KEY, 0.1) == pytest.approx(0.3, abs=0.05)
    waiting = asyncio.ensure_future(other.acquire(KEY, 10.0))
    await asyncio.sleep(0.6)  # twice the window: still held
    assert not waiting.done()
    answered_at = time.monotonic()
    await limiter.answered(KEY)
    assert await redis.zcard(held) == 0
    assert await waiting is None
    assert time.monotonic() - answered_at >= 0.3 - 0.01
    assert await redis.zcard(held) == 1


async def test_a_window_full_of_requests_in_flight_is_waited_for_if_it_can_fit(
    redis: Redis, prefix: str
) -> None:
    # The default-limits rule: a slot in flight frees at its answer plus the window, so a
    # budget longer than the window waits for it; one shorter than the window is refused.
    short = RedisRateLimiter(redis, limits=[(1, 0.5)], prefix=prefix)
    long = RedisRateLimiter(redis, limits=[(1, 5.0)], prefix=f"{prefix}-long")
    for limiter in (short, long):
        assert await limiter.acquire(KEY, 0.0) is None  # in flight
    waiting = asyncio.ensure_future(short.acquire(KEY, 3.0))
    assert await long.acquire(KEY, 3.0) == pytest.approx(5.0, abs=0.1)
    await asyncio.sleep(0.1)
    await short.answered(KEY)
    assert await waiting is None


async def test_a_process_that_dies_holding_a_slot_frees_it_after_max_hold(
    redis_url: str, redis: Redis, prefix: str
) -> None:
    limits = [(1, 0.5)]
    common = {"redis_url": redis_url, "prefix": prefix, "limits": limits, "max_hold": 1.0}
    # This process takes its slot and exits without reporting an answer.
    await fleet([{**common, "mode": "acquire", "key": KEY, "hold": True}])
    limiter = RedisRateLimiter(redis, limits=limits, prefix=prefix, max_hold=1.0)
    started = time.monotonic()
    wait = await limiter.acquire(KEY, 0.0)
    assert wait is not None  # held
    assert await limiter.acquire(KEY, 10.0) is None
    # Given up after max_hold, it counted for the window from then: 1.0 + 0.5 s after it left.
    assert 0.5 <= time.monotonic() - started < 1.5 + 5


async def test_a_cancelled_wait_holds_nothing(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(1, 0.5)], prefix=prefix)
    held, window = limiter.keys(KEY)[1], limiter.keys(KEY)[3]
    assert await limiter.acquire(KEY, 0.0) is None
    await limiter.answered(KEY)
    waiting = [asyncio.ensure_future(limiter.acquire(KEY, 10.0)) for _ in range(5)]
    await asyncio.sleep(0.1)
    for waiter in waiting:
        waiter.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert (await redis.zcard(held), await redis.zcard(window)) == (0, 1)
    started = time.monotonic()
    assert await limiter.acquire(KEY, 2.0) is None
    assert time.monotonic() - started < 2.0


async def test_a_refused_slot_takes_nothing(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(2, 5.0)], prefix=prefix)
    for _ in range(2):
        assert await limiter.acquire(KEY, 0.0) is None
        await limiter.answered(KEY)
    wait = await limiter.acquire(KEY, 1.0)
    assert wait == pytest.approx(5.0, abs=0.05)
    assert await redis.zcard(limiter.keys(KEY)[1]) == 0
    await limiter.pause(KEY, 30.0)
    assert await limiter.acquire(KEY, 1.0) == pytest.approx(30.0, abs=0.1)
    await limiter.pause(KEY, 1.0)  # a shorter pause never shortens a longer one
    assert await limiter.acquire(KEY, 1.0) == pytest.approx(30.0, abs=0.1)


async def test_tokens_keep_separate_windows(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, limits=[(1, 5.0)], prefix=prefix)
    other = token_fingerprint("another-token")
    assert await limiter.acquire(KEY, 0.0) is None
    assert await limiter.acquire(other, 0.0) is None
    await limiter.answered(KEY)
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
        await limiter.answered(KEY)
    # In-process limits still hold: the second three waited for the window.
    assert time.monotonic() - started >= 0.5
    assert not limiter.using_redis
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Redis failed" in warnings[0].getMessage()
    await dead.aclose()


async def test_limits_and_prefix_are_checked(redis: Redis) -> None:
    for limits in ([(0, 1.0)], [(1, 0.0)], [(1, float("inf"))], [(True, 1.0)], [(1,)]):
        with pytest.raises((ValueError, TypeError), match="limits"):
            RedisRateLimiter(redis, limits=limits)  # type: ignore[arg-type]
    for max_hold in (0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="max_hold"):
            RedisRateLimiter(redis, max_hold=max_hold)
    with pytest.raises(ValueError, match="prefix"):
        RedisRateLimiter(redis, prefix="")
    assert "SECRET" not in repr(RedisRateLimiter(redis))


def test_importing_do_images_does_not_import_redis() -> None:
    code = "import sys, do_images; sys.exit(int('redis' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0


async def _outcomes_of_cancelled_calls(call: Any, rounds: int) -> Counter[str]:
    """Start `call()` `rounds` times, cancel each after 0 to 6 loop turns, and count what the
    task did: 'cancelled', 'finished' (before the cancel came) or 'swallowed' (it returned
    normally although its cancellation was requested)."""
    outcomes: Counter[str] = Counter()

    async def job() -> int:
        await call()
        return asyncio.current_task().cancelling()  # type: ignore[union-attr]

    for turn in range(rounds):
        task = asyncio.create_task(job())
        for _ in range(turn % 7):
            await asyncio.sleep(0)
        task.cancel()
        try:
            requested = await task
        except asyncio.CancelledError:
            outcomes["cancelled"] += 1
        else:
            outcomes["swallowed" if requested else "finished"] += 1
    return outcomes


async def test_a_cancelled_redis_call_is_cancelled(redis: Redis, prefix: str) -> None:
    # redis-py 8.1 often returns normally from a command cancelled mid-flight (before the
    # fix, 168 of these 300 loads); a stopped crawl then went on and never ended.
    checkpoints = RedisCheckpoints(redis, prefix=prefix)
    limiter = RedisRateLimiter(redis, limits=[(1_000_000, 60.0)], prefix=prefix)
    for call in (
        lambda: checkpoints.load("acct"),
        lambda: checkpoints.page_done("acct", 1),
        lambda: limiter.acquire(KEY, 10.0),
    ):
        outcomes = await _outcomes_of_cancelled_calls(call, 300)
        assert outcomes["swallowed"] == 0, outcomes
        assert outcomes["cancelled"] > 100, outcomes  # the cancellations did land mid-call
