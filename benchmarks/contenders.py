"""One contender per child process: walk every image of a listing and print one JSON line.

``python -m benchmarks.contenders NAME URL [--concurrency N] [--limit N] [--accounts N]
[--accounts-in-flight N] [--profile TOP]`` reports wall and CPU seconds of the walk, time to
first item, items seen and peak RSS. The ``*-accounts`` contenders (and ``do_images-crawl``)
walk the listing once per account, all at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


async def raw_sequential(url: str, probe: Probe, opts: argparse.Namespace) -> None:
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


async def raw_concurrent(url: str, probe: Probe, opts: argparse.Namespace) -> None:
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


async def do_images_walk(url: str, probe: Probe, opts: argparse.Namespace) -> None:
    """The SDK: builds an `Image` per item and keeps none of them."""
    import do_images

    async with do_images.Client(
        TOKEN, base_url=url, rate_limits=(), concurrency=opts.concurrency
    ) as client:
        async for _image in client.images.list(per_page=PER_PAGE):
            probe.saw()
            if opts.limit is not None and probe.count >= opts.limit:
                break


async def raw_accounts(url: str, probe: Probe, opts: argparse.Namespace) -> None:
    """Many accounts with raw aiohttp: one session, each account's pages as raw_concurrent
    (or, with `--sequential`, one after another)."""
    import aiohttp
    import orjson

    async with aiohttp.ClientSession() as session:

        async def fetch(token: str, page: int) -> Any:
            params = {"page": page, "per_page": PER_PAGE}
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(f"{url}/v2/images", params=params, headers=headers) as answer:
                return orjson.loads(await answer.read())

        async def account(token: str) -> None:
            first = await fetch(token, 1)
            for _ in first["images"]:
                probe.saw()
            pages = range(2, _pages_of(first) + 1)
            if opts.sequential:
                for n in pages:
                    for _ in (await fetch(token, n))["images"]:
                        probe.saw()
                return
            for done in asyncio.as_completed([fetch(token, n) for n in pages]):
                for _ in (await done)["images"]:
                    probe.saw()

        await asyncio.gather(*(account(token) for token in _tokens(opts.accounts)))


async def do_images_accounts(url: str, probe: Probe, opts: argparse.Namespace) -> None:
    """Many accounts with the SDK, one Client per token, each walking its listing; with
    `--shared-session` every client uses one aiohttp.ClientSession passed as `session=`."""
    import aiohttp

    import do_images

    async def walk(client: do_images.Client) -> None:
        async for _image in client.images.list(per_page=PER_PAGE):
            probe.saw()

    async with contextlib.AsyncExitStack() as stack:
        session = None
        if opts.shared_session:
            session = await stack.enter_async_context(aiohttp.ClientSession())
        clients = [
            await stack.enter_async_context(
                do_images.Client(
                    token,
                    base_url=url,
                    session=session,
                    rate_limits=(),
                    concurrency=opts.concurrency,
                )
            )
            for token in _tokens(opts.accounts)
        ]
        await asyncio.gather(*(walk(client) for client in clients))


async def do_images_crawl(url: str, probe: Probe, opts: argparse.Namespace) -> None:
    """Many accounts with `do_images.crawl`: one pool, `--accounts-in-flight` walked at once."""
    import do_images

    accounts = {f"account-{n}": token for n, token in enumerate(_tokens(opts.accounts))}
    crawl = do_images.crawl(
        accounts,
        base_url=url,
        per_page=PER_PAGE,
        accounts_in_flight=opts.accounts_in_flight,
        rate_limits=(),
    )
    async with crawl:
        async for _found in crawl:
            probe.saw()


def _tokens(accounts: int) -> list[str]:
    # The emulator takes any bearer token; each client still sends its own.
    return [f"{TOKEN}-{n}" for n in range(accounts)]


def pydo_walk(url: str, probe: Probe, opts: argparse.Namespace) -> None:
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


def python_digitalocean_walk(url: str, probe: Probe, opts: argparse.Namespace) -> None:
    """python-digitalocean follows `links.pages.next` and returns one list of `Image`s."""
    import digitalocean  # type: ignore[import-untyped]

    manager = digitalocean.Manager(token=TOKEN, end_point=f"{url}/v2/")
    for _ in manager.get_all_images():
        probe.saw()


CONTENDERS: dict[str, Callable[..., Any]] = {
    "raw-sequential": raw_sequential,
    "raw-concurrent": raw_concurrent,
    "do_images": do_images_walk,
    "raw-accounts": raw_accounts,
    "do_images-accounts": do_images_accounts,
    "do_images-crawl": do_images_crawl,
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


def measure(name: str, url: str, opts: argparse.Namespace) -> dict[str, Any]:
    """Run one walk (the library already imported) and return its numbers."""
    walk = CONTENDERS[name]
    cpu_before = _cpu()
    probe = Probe()
    result = walk(url, probe, opts)
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
        "do_images-accounts": ["do_images"],
        "do_images-crawl": ["do_images"],
    }.get(name, ["aiohttp", "orjson"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contenders")
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="stop after N items")
    parser.add_argument("--accounts", type=int, default=100, help="tokens of *-accounts")
    parser.add_argument("--shared-session", action="store_true", help="one session for all")
    parser.add_argument("--accounts-in-flight", type=int, default=16, help="do_images-crawl")
    parser.add_argument("--sequential", action="store_true", help="raw-accounts: page by page")
    parser.add_argument("--profile", type=int, metavar="N", help="print cProfile's top N to stderr")
    args = parser.parse_args(argv)
    _loopback_only()
    for module in _imports(args.name):
        __import__(module)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    result = measure(args.name, args.url, args)
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
        stats.print_stats(args.profile)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
