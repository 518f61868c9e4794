"""Recipe: one crawl's accounts spread over worker processes and machines, with taskiq on Redis.

    uv sync --extra crawl-queue --extra redis
    python docs/recipes/taskiq_crawl.py worker   # on every machine, as many as you like
    python docs/recipes/taskiq_crawl.py kick     # once: one task per account

One task per account. Every worker shares the tokens' rate limits through `RedisRateLimiter`
and each account's progress through `RedisCheckpoints`, so a task re-delivered after its worker
died resumes after the last page stored. Images go to SQLite (primary key: account, image id;
an upsert, so a repeated page is stored once). Configuration comes from the environment:

- ``CRAWL_REDIS_URL``: the Redis of the queue, the limits and the checkpoints.
- ``CRAWL_TOKENS``: a JSON file ``{"account name": "token"}``. Only workers read it (and the
  kicker, for the names): tokens never enter Redis, tasks carry account names.
- ``CRAWL_DATABASE``: the SQLite file (every worker of one machine may share it).
- ``CRAWL_BASE_URL``: the API (DigitalOcean's by default).
- ``CRAWL_LEASE``: seconds after which a task whose worker stopped renewing it (the worker
  died) goes to another worker (default 60).
- ``CRAWL_TIMEOUT``: each request's timeout in seconds (default 30). A worker that dies in
  the middle of requests leaves them held in the shared windows (nobody will report their
  answers); the limiter counts them as answered twice this long after they left, so their
  token's other workers wait at most that.
- ``CRAWL_ACCOUNTS_PER_WORKER``: accounts one worker walks at once (default 4).
- ``CRAWL_RATE_LIMITS``: each token's windows, as ``250/60,5000/3600`` (DigitalOcean's, the
  default); ``CRAWL_PER_PAGE``: images a page (200).

PostgreSQL instead of SQLite: replace `SqliteSink` by one on asyncpg; the schema and the
upsert (``INSERT ... ON CONFLICT (account, image_id) DO UPDATE``) are the same SQL there, and
every machine's workers then write to one database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import aiohttp
from redis.asyncio import Redis
from taskiq import AckableMessage
from taskiq.api import run_receiver_task
from taskiq_redis import RedisStreamBroker

import do_images
from do_images.redis import RedisCheckpoints, RedisRateLimiter

logger = logging.getLogger("crawl")
# What redis-py's stream reads give: (id, fields) entries, per stream.
Entries = list[tuple[bytes, dict[bytes, bytes]]]
Streams = list[tuple[bytes, Entries]]

REDIS_URL = os.environ.get("CRAWL_REDIS_URL", "redis://localhost:6379/0")
TOKENS = Path(os.environ.get("CRAWL_TOKENS", "tokens.json"))
DATABASE = Path(os.environ.get("CRAWL_DATABASE", "inventory.sqlite3"))
BASE_URL = os.environ.get("CRAWL_BASE_URL", "https://api.digitalocean.com")
LEASE = float(os.environ.get("CRAWL_LEASE", "60"))
ACCOUNTS_PER_WORKER = int(os.environ.get("CRAWL_ACCOUNTS_PER_WORKER", "4"))
RATE_LIMITS = [
    (int(count), float(seconds))
    for count, seconds in (
        window.split("/")
        for window in os.environ.get("CRAWL_RATE_LIMITS", "250/60,5000/3600").split(",")
    )
]
PER_PAGE = int(os.environ.get("CRAWL_PER_PAGE", "200"))
TIMEOUT = float(os.environ.get("CRAWL_TIMEOUT", "30"))


class LeasedStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker (acknowledged messages), with leases on running tasks.

    A task stays pending in the stream until its worker acknowledges it (after it ran). Two
    gaps of taskiq-redis 1.2 are closed here: it takes over a dead worker's pending task only
    right after a read that brought new tasks (so the last tasks of a crawl would never be
    taken over), and it would hand a task that merely runs longer than `idle_timeout` to a
    second worker. Here a worker renews its running tasks (``XCLAIM ... JUSTID`` resets their
    idle time) every third of `idle_timeout`, and on every pass of its read loop takes over
    tasks idle for longer: those of workers that died.
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._running: set[bytes] = set()

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        acknowledge = super()._ack_generator(id, queue_name)

        async def ack() -> None:
            await acknowledge()
            self._running.discard(id)

        return ack

    def _message(self, message_id: bytes, fields: dict[bytes, bytes]) -> AckableMessage:
        self._running.add(message_id)
        return AckableMessage(
            data=fields[b"data"],
            ack=self._ack_generator(id=message_id, queue_name=self.queue_name),  # type: ignore[arg-type]
        )

    async def _renew(self) -> None:
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                await asyncio.sleep(self.idle_timeout / 3000)
                if self._running:
                    await redis.xclaim(
                        self.queue_name,
                        self.consumer_group_name,
                        self.consumer_name,
                        min_idle_time=0,
                        message_ids=list(self._running),
                        justid=True,
                    )

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        renewing = asyncio.create_task(self._renew())
        logger.info("listening for tasks on %s", self.queue_name)
        try:
            async with Redis(connection_pool=self.connection_pool) as redis:
                while True:
                    fetched = await redis.xreadgroup(
                        self.consumer_group_name,
                        self.consumer_name,
                        {self.queue_name: ">"},
                        block=self.block,
                        count=self.count,
                    )
                    for _, messages in cast(Streams | None, fetched) or []:
                        for message_id, fields in messages:
                            yield self._message(message_id, fields)
                    _, claimed, *_ = await redis.xautoclaim(
                        self.queue_name,
                        self.consumer_group_name,
                        self.consumer_name,
                        min_idle_time=self.idle_timeout,
                        count=self.unacknowledged_batch_size,
                    )
                    for message_id, fields in cast(Entries, claimed):
                        if message_id not in self._running:
                            logger.info("took over a task whose worker stopped")
                            yield self._message(message_id, fields)
        finally:
            renewing.cancel()


broker = LeasedStreamBroker(
    REDIS_URL,
    queue_name="do_images:crawl:tasks",
    consumer_group_name="do_images-crawl",
    idle_timeout=int(LEASE * 1000),
    xread_block=min(2000, int(LEASE * 500)),
    xread_count=1,  # take one task at a time: the others stay for idle workers
)


class SqliteSink:
    """The inventory: one row per (account, image id), the image as `do_images.to_dict` JSON."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS images (
            account TEXT NOT NULL,
            image_id INTEGER NOT NULL,
            image TEXT NOT NULL,
            PRIMARY KEY (account, image_id)
        );
        CREATE TABLE IF NOT EXISTS failures (account TEXT PRIMARY KEY, error TEXT NOT NULL);
    """
    UPSERT = """
        INSERT INTO images (account, image_id, image) VALUES (?, ?, ?)
        ON CONFLICT (account, image_id) DO UPDATE SET image = excluded.image
    """

    def __init__(self, path: Path) -> None:
        # Several worker processes write one file: WAL lets them, a busy timeout queues them.
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        # Setting up the file takes its lock without that timeout ("database is locked" when
        # workers start together, seen in this recipe's test): retried for at most 10 s.
        for attempt in range(100):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(self.SCHEMA)
                break
            except sqlite3.OperationalError:
                if attempt == 99:
                    raise
                time.sleep(0.1)
        self._db.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing

    def put(self, found: do_images.Crawled) -> None:
        # Each row is committed before the crawl asks for the next item, so a page is
        # checkpointed only once all its rows are stored.
        image = json.dumps(do_images.to_dict(found.image))
        self._db.execute(self.UPSERT, (found.account, found.image.id, image))

    def failed(self, account: str, error: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?)", (account, error))

    def close(self) -> None:
        self._db.close()


class Worker:
    """What one worker process holds for all its tasks: one connection pool, the shared
    limits and checkpoints, the sink, and the tokens."""

    def __init__(self) -> None:
        self.redis = Redis.from_url(REDIS_URL)  # pyright: ignore[reportUnknownMemberType]
        # max_hold must exceed any request's timeout; past it, a dead worker's requests count
        # as answered (the default, 120 s, would hold its token's windows that long).
        self.limiter = RedisRateLimiter(self.redis, limits=RATE_LIMITS, max_hold=2 * TIMEOUT)
        self.checkpoints = RedisCheckpoints(self.redis)
        self.session = aiohttp.ClientSession()
        self.sink = SqliteSink(DATABASE)
        self.tokens = tokens()

    async def close(self) -> None:
        await self.session.close()
        await self.redis.aclose()
        self.sink.close()


def tokens() -> dict[str, str]:
    """Account name -> token, from the file only workers (and the kicker) read."""
    found: dict[str, str] = json.loads(TOKENS.read_text())
    return found


_worker: Worker | None = None


@broker.task(task_name="do_images.crawl_account")
async def crawl_account(account: str) -> int:
    """Store every image of `account`, resuming after its last stored page."""
    global _worker
    worker = _worker = _worker or Worker()
    logger.info("crawling account %s", account)
    crawl = do_images.crawl(
        {account: worker.tokens[account]},
        private=True,  # the account's own images: snapshots, backups, custom images
        per_page=PER_PAGE,
        session=worker.session,
        rate_limiter=worker.limiter,
        checkpoints=worker.checkpoints,
        base_url=BASE_URL,
        timeout=TIMEOUT,
    )
    stored = 0
    try:
        async with crawl:
            async for found in crawl:
                worker.sink.put(found)
                stored += 1
    except Exception as problem:  # not the account's failure (the sink, Redis, a bug): kept too
        worker.sink.failed(account, f"{type(problem).__name__}: {problem}")
        logger.exception("account %s stopped after %d images stored", account, stored)
        raise
    for name, error in crawl.failures.items():
        worker.sink.failed(name, f"{type(error).__name__}: {error}")
    logger.info("account %s %s (%d images stored)", account, _outcome(crawl), stored)
    return stored


def _outcome(crawl: do_images.Crawl) -> str:
    return "failed" if crawl.failures else "complete"


async def kick() -> None:
    """One task per account named in the tokens file."""
    await broker.startup()
    try:
        for account in tokens():
            await crawl_account.kiq(account)
    finally:
        await broker.shutdown()


async def work() -> None:
    """Run tasks until stopped (SIGINT/SIGTERM), `ACCOUNTS_PER_WORKER` at a time."""
    global _worker
    await broker.startup()
    try:
        _worker = Worker()  # before any task: a task that failed to set it up would be lost
        await run_receiver_task(broker, max_async_tasks=ACCOUNTS_PER_WORKER, run_startup=False)
    finally:
        if _worker is not None:
            await _worker.close()
        await broker.shutdown()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(process)d %(name)s: %(message)s")
    commands = {"kick": kick, "worker": work}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: taskiq_crawl.py kick|worker", file=sys.stderr)
        return 2
    try:
        asyncio.run(commands[argv[0]]())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
