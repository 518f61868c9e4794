"""A fleet of processes sharing one token: in-process limits against RedisRateLimiter.

    uv run python benchmarks/fleet.py [--processes 4] [--pages 75] [--limit 50] [--window 2]
                                      [--concurrency 16] [--redis-url URL]

N worker processes (each its own Python, its own Client, `concurrency` pages in flight, 16 as
in rate_limited_crawl.py) walk the whole listing with the same token, against one emulator
enforcing `limit` requests per `window` seconds (beside DigitalOcean's hourly 5,000). Run
twice: each process keeping the limit on its own (the baseline), then all of them sharing it
through Redis. The emulator runs in this process, which does nothing else while the workers
run; the workers start together once all are ready.

Printed per run: answers 429 (from the emulator's log), requests, the wall time from the common
start to the last walk's end, and its ratio to the window's minimum: R requests need at least
(ceil(R / limit) - 1) x window seconds, since the first `limit` may go at once and each further
`limit` must wait one window. Redis comes from --redis-url, else DO_IMAGES_REDIS_URL, else a
`redis-server` started on a free loopback port (and stopped). Exits 1 unless the Redis run had
no 429, every process got every image and the wall stayed within 1.15x the minimum.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import do_images
from do_images.testing import Emulator

HERE = Path(__file__).resolve()
TOKEN = "fleet-benchmark-token"
HOURLY = (5000, 3600.0)
GOAL = 1.15


# -- a worker: one process of the fleet ------------------------------------------------------


async def walk(job: dict[str, Any]) -> dict[str, Any]:
    """Walk the whole listing once, as one process of the fleet; report what came back."""
    limits = [tuple(window) for window in job["limits"]]
    options: dict[str, Any] = {"base_url": job["base_url"]}
    redis = None
    if job["redis_url"]:
        from redis.asyncio import Redis

        from do_images.redis import RedisRateLimiter

        redis = Redis.from_url(job["redis_url"])
        await redis.ping()  # connected before the start
        options["rate_limiter"] = RedisRateLimiter(redis, limits=limits, prefix=job["prefix"])
    else:
        options["rate_limits"] = limits
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    await asyncio.sleep(max(0.0, start - time.time()))
    try:
        async with do_images.Client(TOKEN, **options) as client:
            listing = client.images.list(per_page=job["per_page"], concurrency=job["concurrency"])
            ids = [image.id async for image in listing]
    finally:
        if redis is not None:
            await redis.aclose()
    return {"images": len(ids), "distinct": len(set(ids)), "ended": time.time()}


# -- the coordinator -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A throwaway `redis-server` on a free loopback port, without persistence."""

    def __init__(self) -> None:
        port = _free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(100):  # bounded: 5 s
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("redis-server did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def fleet_run(opts: argparse.Namespace, redis_url: str | None) -> dict[str, Any]:
    """One run: the emulator here, `opts.processes` workers walking it together."""
    limits = [(opts.limit, opts.window)]
    async with Emulator(seed=False, rate_limits=(*limits, HOURLY)) as emulator:
        emulator.add_images(opts.pages * opts.per_page)
        job = {
            "base_url": str(emulator.url),
            "limits": limits,
            "per_page": opts.per_page,
            "redis_url": redis_url,
            "prefix": f"fleet-{uuid.uuid4().hex[:8]}",
            "concurrency": opts.concurrency,
        }
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        workers = [
            await asyncio.create_subprocess_exec(
                *(sys.executable, str(HERE), "--worker", json.dumps(job)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
            for _ in range(opts.processes)
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None
                line = await asyncio.wait_for(worker.stdout.readline(), 60)
                if line != b"ready\n":
                    raise RuntimeError(f"a worker did not start: {line!r}")
            start = time.time() + 0.2
            outputs = await asyncio.wait_for(
                asyncio.gather(*(w.communicate(f"{start}\n".encode()) for w in workers)), 600
            )
        finally:
            for worker in workers:
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()
        if any(worker.returncode for worker in workers):
            raise RuntimeError("a worker failed (its traceback is above)")
        statuses = [request.status for request in emulator.requests]
    walks = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    images = opts.pages * opts.per_page
    return {
        "requests": len(statuses),
        "429s": statuses.count(429),
        "wall": max(w["ended"] for w in walks) - start,
        "complete": all(w["images"] == w["distinct"] == images for w in walks),
    }


def _redis_url(opts: argparse.Namespace) -> tuple[str | None, RedisServer | None, str]:
    if opts.redis_url:
        return opts.redis_url, None, "--redis-url"
    if os.environ.get("DO_IMAGES_REDIS_URL"):
        return os.environ["DO_IMAGES_REDIS_URL"], None, "DO_IMAGES_REDIS_URL"
    if shutil.which("redis-server"):
        server = RedisServer()
        return server.url, server, "a redis-server started for this run"
    return None, None, ""


def _line(label: str, run: dict[str, Any], minimum: float) -> str:
    ratio = f"{run['wall'] / minimum:.3f}" if minimum > 0 else "n/a"
    return (
        f"{label:<29} 429s={run['429s']:<4} requests={run['requests']:<5} "
        f"wall={run['wall']:.2f}s ratio={ratio} "
        f"every process got every image: {'yes' if run['complete'] else 'NO'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--pages", type=int, default=75, help="pages each process walks")
    parser.add_argument("--per-page", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16, help="pages in flight per process")
    parser.add_argument("--limit", type=int, default=50, help="requests per window")
    parser.add_argument("--window", type=float, default=2.0, help="the window, in seconds")
    parser.add_argument("--redis-url", help="default: DO_IMAGES_REDIS_URL, else a redis-server")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        print(json.dumps(asyncio.run(walk(json.loads(opts.worker)))))
        return 0

    total = opts.processes * opts.pages
    minimum = (math.ceil(total / opts.limit) - 1) * opts.window
    print(
        f"{opts.processes} processes x {opts.pages} pages ({opts.per_page} images a page), "
        f"one token, the emulator at {opts.limit} per {opts.window:g} s"
    )
    print(
        f"the window's minimum: {minimum:.2f} s = (ceil({total} requests / {opts.limit}) - 1)"
        f" x {opts.window:g} s"
    )
    baseline = asyncio.run(fleet_run(opts, None))
    print(_line("in-process limits (baseline)", baseline, minimum), flush=True)
    redis_url, server, where = _redis_url(opts)
    if redis_url is None:
        print(
            "RedisRateLimiter: not run, no Redis: give --redis-url or DO_IMAGES_REDIS_URL, or "
            "install redis-server (Debian: apt-get install redis-server)"
        )
        return 1 if os.environ.get("DO_IMAGES_REQUIRE_REDIS") == "1" else 0
    try:
        shared = asyncio.run(fleet_run(opts, redis_url))
    finally:
        if server is not None:
            server.close()
    print(_line("RedisRateLimiter", shared, minimum) + f" (Redis: {where})")
    met = shared["429s"] == 0 and shared["complete"] and shared["wall"] <= GOAL * minimum
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
