"""One contender per child process: walk every image of a listing and print one JSON line.

``python -m benchmarks.contenders NAME URL [--concurrency N] [--limit N] [--profile TOP]``
reports wall and CPU seconds of the walk, time to first item, items seen and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import pstats
import resource
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

TOKEN = "benchmark-token"
PER_PAGE = 200


class Probe:
    """Counts items and notes when the first one arrived."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.count = 0

    def saw(self, n: int = 1) -> None:
        if self.first is None and n:
            self.first = time.perf_counter()
        self.count += n


def _pages_of(data: dict[str, Any]) -> int:
    total: int = data["meta"]["total"]
    return max(1, math.ceil(total / PER_PAGE))


async def raw_sequential(url: str, probe: Probe, limit: int | None, concurrency: int) -> None:
    import aiohttp
    import orjson

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        page = 1
        while True:
            params = {"page": page, "per_page": PER_PAGE}
            async with session.get(f"{url}/v2/images", params=params) as answer:
                data = orjson.loads(await answer.read())
            for _ in data["images"]:
                probe.saw()
            if not data.get("links", {}).get("pages", {}).get("next"):
                return
            page += 1


async def raw_concurrent(url: str, probe: Probe, limit: int | None, concurrency: int) -> None:
    """Page 1, then every other page at once (aiohttp's pool allows 100 connections)."""
    import aiohttp
    import orjson

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def fetch(page: int) -> Any:
            params = {"page": page, "per_page": PER_PAGE}
            async with session.get(f"{url}/v2/images", params=params) as answer:
                return orjson.loads(await answer.read())

        first = await fetch(1)
        for _ in first["images"]:
            probe.saw()
        for done in asyncio.as_completed([fetch(n) for n in range(2, _pages_of(first) + 1)]):
            for _ in (await done)["images"]:
                probe.saw()


async def do_images_walk(url: str, probe: Probe, limit: int | None, concurrency: int) -> None:
    """The SDK: builds an `Image` per item and keeps none of them."""
    import do_images

    async with do_images.Client(
        TOKEN, base_url=url, rate_limits=(), concurrency=concurrency
    ) as client:
        async for _image in client.images.list(per_page=PER_PAGE):
            probe.saw()
            if limit is not None and probe.count >= limit:
                break


def pydo_walk(url: str, probe: Probe, limit: int | None, concurrency: int) -> None:
    """pydo (DigitalOcean's official client) has no iterator: the caller walks `page`."""
    from pydo import Client

    client = Client(TOKEN, endpoint=url)
    page = 1
    while True:
        # Plain http to the local emulator: azure-core refuses bearer tokens without this.
        data = client.images.list(per_page=PER_PAGE, page=page, enforce_https=False)
        for _ in data["images"]:
            probe.saw()
        if not data.get("links", {}).get("pages", {}).get("next"):
            return
        page += 1


def python_digitalocean_walk(url: str, probe: Probe, limit: int | None, concurrency: int) -> None:
    """python-digitalocean follows `links.pages.next` and returns one list of `Image`s."""
    import digitalocean  # type: ignore[import-untyped]

    manager = digitalocean.Manager(token=TOKEN, end_point=f"{url}/v2/")
    for _ in manager.get_all_images():
        probe.saw()


CONTENDERS: dict[str, Callable[..., Any]] = {
    "raw-sequential": raw_sequential,
    "raw-concurrent": raw_concurrent,
    "do_images": do_images_walk,
    "pydo": pydo_walk,
    "python-digitalocean": python_digitalocean_walk,
}


def _loopback_only() -> None:
    """Refuse any connection that is not to this machine, whatever a library is told."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1", b"localhost"):
            raise OSError(f"benchmark contenders may only reach 127.0.0.1, not {host!r}")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def measure(name: str, url: str, *, concurrency: int, limit: int | None) -> dict[str, Any]:
    """Run one walk (the library already imported) and return its numbers."""
    walk = CONTENDERS[name]
    cpu_before = _cpu()
    probe = Probe()
    result = walk(url, probe, limit, concurrency)
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    wall = time.perf_counter() - probe.start
    return {
        "wall_s": wall,
        "cpu_s": _cpu() - cpu_before,
        "ttfi_s": None if probe.first is None else probe.first - probe.start,
        "items": probe.count,
        "peak_rss_mib": _peak_rss_mib(),
    }


def _imports(name: str) -> Iterator[str]:
    yield from {
        "pydo": ["pydo"],
        "python-digitalocean": ["digitalocean"],
        "do_images": ["do_images"],
    }.get(name, ["aiohttp", "orjson"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contenders")
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="stop after N items")
    parser.add_argument("--profile", type=int, metavar="N", help="print cProfile's top N to stderr")
    args = parser.parse_args(argv)
    _loopback_only()
    for module in _imports(args.name):
        __import__(module)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    result = measure(args.name, args.url, concurrency=args.concurrency, limit=args.limit)
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
        stats.print_stats(args.profile)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
