"""The distributed crawl recipe (docs/recipes/taskiq_crawl.py) for real: a redis-server, the
emulator with 20 accounts and enforced limits, 2 worker processes, one killed mid-account."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("redis", reason="the redis extra is not installed: uv sync --all-extras")
pytest.importorskip("taskiq_redis", reason="the crawl-queue extra is not installed")

from redis.asyncio import Redis

from do_images.redis import RedisCheckpoints
from do_images.testing import Emulator

from .support.redis_server import own_redis_server

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "docs" / "recipes" / "taskiq_crawl.py"
ACCOUNTS = 20
PAGES, PER_PAGE = 9, 5
# 5 requests in 3 s per token, enforced by the emulator: an account takes two windows, and a
# task taken over after its worker died (the lease is 1 s) lands inside the dead worker's
# window, where a limiter of its own would send at once and be answered 429.
LIMIT = (5, 3.0)


def load_recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("taskiq_crawl", RECIPE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # taskiq's task decorator looks its module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of this test alone: the recipe's queue has fixed key names."""
    yield from own_redis_server()


def token(name: str) -> str:
    return f"dop_v1_{name}-SECRET-0123456789abcdef"


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[Emulator, set[tuple[str, int]]]]:
    names = [f"team{n:02d}" for n in range(ACCOUNTS)]
    async with Emulator(
        seed=False, rate_limits=[LIMIT], latency=0.02, tokens={token(n): n for n in names}
    ) as emu:
        held = {
            (name, image.id)
            for n, name in enumerate(names)
            # 41 to 45 snapshots: 9 pages of 5, the last one short but for team00, team05, ...
            for image in emu.add_images(PAGES * PER_PAGE - n % 5, kind="snapshot", account=name)
        }
        # Public images are not the accounts' own: the recipe lists private ones only.
        emu.add_images(7, kind="distribution")
        yield emu, held


class Process:
    """A recipe command in its own OS process; its log lines collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        assert process.stderr is not None
        self._reader = asyncio.ensure_future(self._read(process.stderr))

    @classmethod
    async def start(cls, command: str, env: dict[str, str]) -> Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(RECIPE),
            command,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        return cls(process)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip())

    def started(self) -> list[str]:
        return [line.rsplit(" ", 1)[1] for line in self.lines if "crawl: crawling account" in line]

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), 15)
        await asyncio.wait_for(self._reader, 15)


async def until(condition: object, seconds: float, what: str) -> None:
    """Poll `condition` (an async callable) every 20 ms, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not await condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting until {what}")
        await asyncio.sleep(0.02)


async def test_two_workers_one_killed_mid_account_store_every_image_exactly_once(
    redis_url: str,
    emulator: tuple[Emulator, set[tuple[str, int]]],
    tmp_path: Path,
) -> None:
    recipe = load_recipe()  # the module the docs show, imported as they say
    assert recipe.crawl_account.task_name == "do_images.crawl_account"
    emu, held = emulator
    names = sorted({name for name, _ in held})
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({name: token(name) for name in names}))
    database = tmp_path / "inventory.sqlite3"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        CRAWL_REDIS_URL=redis_url,
        CRAWL_TOKENS=str(tokens),
        CRAWL_DATABASE=str(database),
        CRAWL_BASE_URL=str(emu.url),
        CRAWL_LEASE="1",
        # The victim may die holding every slot of its account's window (requests sent, not
        # answered; likely on a loaded machine, where the emulator answers late): the limiter
        # frees them after twice this (the default, 120 s, outlasted the wait below).
        CRAWL_TIMEOUT="5",
        CRAWL_ACCOUNTS_PER_WORKER=str(ACCOUNTS),
        CRAWL_RATE_LIMITS=f"{LIMIT[0]}/{LIMIT[1]}",
        CRAWL_PER_PAGE=str(PER_PAGE),
    )
    redis = Redis.from_url(redis_url)
    checkpoints = RedisCheckpoints(redis)
    workers = [await Process.start("worker", env) for _ in range(2)]
    try:

        async def listening() -> bool:
            return all(any("listening for tasks" in line for line in w.lines) for w in workers)

        await until(listening, 30, "both workers listen")
        kicker = await Process.start("kick", env)
        await kicker.stop(0)  # waits for it to finish (signal 0 only checks it is alive)
        assert kicker.process.returncode == 0, kicker.lines

        # Kill a worker once one of its accounts has a page stored but is not done. Each
        # worker may run every account at once, so the other one takes over at once too:
        # inside the dead worker's rate-limit window.
        killed: list[tuple[Process, str]] = []

        async def mid_account() -> bool:
            for worker in workers:
                for name in worker.started():
                    progress = await checkpoints.load(name)
                    if progress.pages_done >= 1 and not progress.complete:
                        killed.append((worker, name))
                        return True
            return False

        await until(mid_account, 60, "a worker is in the middle of an account")
        ((victim, account),) = killed
        (survivor,) = [w for w in workers if w is not victim]
        victim.process.send_signal(signal.SIGKILL)
        await victim.stop()
        assert victim.process.returncode == -signal.SIGKILL

        async def all_done() -> bool:
            return all([(await checkpoints.load(name)).complete for name in names])

        try:
            await until(all_done, 120, "every account is complete")
        except pytest.fail.Exception:
            # What a loaded CI run needs to tell a stuck queue from a failed crawl.
            waiting = [n for n in names if not (await checkpoints.load(n)).complete]
            with closing(sqlite3.connect(database)) as db:
                failed = db.execute("SELECT * FROM failures").fetchall()
            about = [line for line in survivor.lines if any(n in line for n in waiting)]
            about += [f"victim: {line}" for line in victim.lines if any(n in line for n in waiting)]
            troubles = [
                line
                for w in workers
                for line in w.lines
                if any(word in line for word in ("Error", "Exception", "Traceback", "WARNING"))
            ]
            pending = await redis.xpending("do_images:crawl:tasks", "do_images-crawl")
            pytest.fail(
                f"accounts never complete: {waiting}; failures: {failed}; victim {account},"
                f" which started {victim.started()}; survivor's lines about them: {about};"
                f" took over: {sum('took over' in line for line in survivor.lines)};"
                f" pending in the stream: {pending}; troubles: {troubles[-10:]};"
                f" survivor's log tail: {survivor.lines[-8:]}"
            )
        await survivor.stop()

        # Every image of every account stored exactly once, and nothing else.
        # sqlite3's own `with` only ends a transaction; closing() closes the connection.
        with closing(sqlite3.connect(database)) as db:
            rows = db.execute("SELECT account, image_id FROM images").fetchall()
            failures = db.execute("SELECT * FROM failures").fetchall()
        assert failures == []
        assert len(rows) == len(set(rows)) == len(held)
        assert set(rows) == held
        # The enforced limits were never hit: the workers shared each token's windows.
        assert [r for r in emu.requests if r.status == 429] == []
        # The killed worker's account was finished by the other one.
        assert account in survivor.started()
        assert any("took over a task" in line for line in survivor.lines)
        # Tokens stay with the workers: no Redis key or stored task holds one.
        for key in await redis.keys("*"):
            assert b"SECRET" not in key
            if await redis.type(key) == b"stream":
                assert b"SECRET" not in repr(await redis.xrange(key)).encode()
        assert all("SECRET" not in line for w in workers for line in w.lines)
    finally:
        for worker in workers:
            await worker.stop(signal.SIGKILL)
        await redis.aclose()
