"""Crawl under a shrunken rate limit: the governor keeps to it with (almost) no 429s.

    uv run python benchmarks/rate_limited_crawl.py [--pages 300] [--limit 50] [--window 2]

The emulator enforces `limit` requests per `window` seconds beside DigitalOcean's hourly
5,000 (whose figures the `ratelimit-*` headers report, as on the real API); the client is
told the same limits and crawls `pages` pages with prefetch. Prints failed calls, 429s
and the wall time against the limit's minimum (pages / limit x window).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import do_images
from do_images.testing import Emulator


async def crawl(pages: int, limit: int, window: float, concurrency: int, per_page: int) -> int:
    limits = ((limit, window), (5000, 3600.0))
    async with Emulator(seed=False, rate_limits=limits) as emulator:
        emulator.add_images(pages * per_page)
        async with do_images.Client("bench", base_url=emulator.url, rate_limits=limits) as client:
            start = time.perf_counter()
            ids = [
                i.id async for i in client.images.list(per_page=per_page, concurrency=concurrency)
            ]
            wall = time.perf_counter() - start
        statuses = [r.status for r in emulator.requests]
    minimum = pages / limit * window
    failed = pages * per_page - len(set(ids))
    print(f"pages={pages} limit={limit}/{window:g}s concurrency={concurrency}")
    print(f"requests={len(statuses)} 429s={statuses.count(429)} failed_calls={failed}")
    print(f"wall={wall:.2f}s minimum={minimum:.2f}s ratio={wall / minimum:.3f}")
    return 0 if failed == 0 and wall <= 1.15 * minimum else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-page", type=int, default=20)
    args = parser.parse_args()
    return asyncio.run(crawl(args.pages, args.limit, args.window, args.concurrency, args.per_page))


if __name__ == "__main__":
    raise SystemExit(main())
