"""crawl(): many accounts against the emulator (one token each) and small hostile servers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

import do_images
from do_images import Crawled, MemoryCheckpoints
from do_images.testing import Emulator, Fault

from .support.fakes import leftover_tasks
from .support.redis_server import redis_url_for_tests
from .support.scripted import scripted_server

PER_PAGE = 5


def token_of(name: str) -> str:
    return f"dop_v1_{name}-SECRET-token-0123456789"


@pytest.fixture
async def fleet() -> AsyncIterator[tuple[Emulator, dict[str, list[int]]]]:
    """An emulator with 12 accounts holding 0 to 23 private images each (0 to 5 pages of 5),
    and the ids each account holds, in listing order."""
    names = [f"acct{n:02d}" for n in range(12)]
    async with Emulator(
        seed=False, rate_limits=(), tokens={token_of(name): name for name in names}
    ) as emu:
        held = {
            name: [image.id for image in emu.add_images(2 * n, kind="snapshot", account=name)]
            for n, name in enumerate(names)
        }
        yield emu, held


def accounts_of(held: dict[str, list[int]]) -> dict[str, str]:
    return {name: token_of(name) for name in held}


async def collect(crawl: do_images.Crawl, limit: int | None = None) -> list[Crawled]:
    found: list[Crawled] = []
    async with crawl:
        async for item in crawl:
            found.append(item)
            if limit is not None and len(found) >= limit:
                break
    return found


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_every_image_of_every_account_once_in_page_order(
    fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = fleet
    crawl = do_images.crawl(
        accounts_of(held), per_page=PER_PAGE, accounts_in_flight=3, base_url=emu.url
    )
    found = await collect(crawl)
    by_account: dict[str, list[int | None]] = {name: [] for name in held}
    for item in found:
        by_account[item.account].append(item.image.id)
    assert by_account == held  # every image once, each account's in listing order
    assert crawl.completed == frozenset(held)
    assert dict(crawl.failures) == {}
    # Each account was walked with its own token: its pages (an empty listing is one page).
    pages = Counter(request.account for request in emu.requests)
    assert pages == {name: max(1, -(-len(ids) // PER_PAGE)) for name, ids in held.items()}
    assert leftover_tasks() == set()


async def test_one_broken_token_among_12_the_other_11_complete(
    fleet: tuple[Emulator, dict[str, list[int]]], caplog: pytest.LogCaptureFixture
) -> None:
    emu, held = fleet
    accounts = accounts_of(held)
    accounts["acct07"] = "dop_v1_revoked-SECRET-token"
    crawl = do_images.crawl(accounts, per_page=PER_PAGE, base_url=emu.url, max_retries=0)
    with caplog.at_level(logging.WARNING, logger="do_images"):
        found = await collect(crawl)
    assert {item.account for item in found} == set(held) - {"acct07", "acct00"}  # 00 is empty
    assert crawl.completed == frozenset(held) - {"acct07"}
    assert list(crawl.failures) == ["acct07"]
    assert isinstance(crawl.failures["acct07"], do_images.AuthenticationError)
    assert Counter(item.account for item in found) == {
        name: len(ids) for name, ids in held.items() if ids and name != "acct07"
    }
    failed = [r for r in caplog.records if "acct07" in r.getMessage()]
    assert len(failed) == 1  # logged once
    assert "AuthenticationError" in failed[0].getMessage()
    assert all("SECRET" not in r.getMessage() for r in caplog.records)
    assert "SECRET" not in repr(crawl) + repr(crawl.failures["acct07"])


def _paged(ids: list[int], page: int, per_page: int) -> dict[str, Any]:
    chunk = ids[(page - 1) * per_page : page * per_page]
    more = page * per_page < len(ids)
    return {
        "images": [{"id": i} for i in chunk],
        "meta": {"total": len(ids)},
        "links": {"pages": {"next": "n"}} if more else {},
    }


async def test_a_server_error_and_a_bad_answer_end_only_their_accounts() -> None:
    """A 500 on page 2 (retries off) and an undecodable page 3: both accounts keep the items
    they got and are recorded; the third completes."""

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        who = request.headers["Authorization"].removeprefix("Bearer ")
        page = int(request.query["page"])
        if who == "t-five" and page == 2:
            return 500, {"id": "server_error", "message": "boom"}, {}
        if who == "t-decode" and page == 3:
            return 200, {"images": [{"id": "not an int"}]}, {}
        return 200, _paged(list(range(1, 21)), page, 4), {}

    accounts = {"five": "t-five", "decode": "t-decode", "fine": "t-fine"}
    async with scripted_server(handler) as server:
        crawl = do_images.crawl(
            accounts, per_page=4, base_url=server.url, max_retries=0, rate_limits=()
        )
        found = await collect(crawl)
    got = Counter(item.account for item in found)
    assert got == {"five": 4, "decode": 8, "fine": 20}
    assert crawl.completed == {"fine"}
    assert isinstance(crawl.failures["five"], do_images.ServerError)
    assert isinstance(crawl.failures["decode"], do_images.ResponseDecodeError)


async def test_pages_that_fail_to_decode_do_not_hold_the_others_up() -> None:
    """A page decodes only when the consumer is about to read it; five accounts whose first
    page does not decode leave nothing held for the two good ones."""

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        who = request.headers["Authorization"].removeprefix("Bearer ")
        if who.startswith("bad"):
            return 200, {"images": [{"id": "not an int"}]}, {}
        return 200, _paged(list(range(1, 11)), int(request.query["page"]), 2), {}

    accounts = {f"bad{n}": f"bad{n}" for n in range(5)} | {"good1": "g1", "good2": "g2"}
    async with scripted_server(handler) as server:
        crawl = do_images.crawl(
            accounts, per_page=2, accounts_in_flight=2, base_url=server.url, rate_limits=()
        )
        found = await asyncio.wait_for(collect(crawl), 20)
    assert Counter(item.account for item in found) == {"good1": 10, "good2": 10}
    assert crawl.completed == {"good1", "good2"}
    assert sorted(crawl.failures) == [f"bad{n}" for n in range(5)]


async def test_a_page_is_read_only_when_the_loop_gets_to_it() -> None:
    """While the loop holds an item, an answer that came meanwhile waits as bytes: its account
    fails (it does not decode) only once the loop has finished the page before it."""
    answered: list[str] = []

    async def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        who = request.headers["Authorization"].removeprefix("Bearer ")
        if who == "bad":
            await asyncio.sleep(0.2)  # after the good page has reached the loop
            answered.append(who)
            return 200, {"images": [{"id": "not an int"}]}, {}
        return 200, _paged([1, 2], int(request.query["page"]), 2), {}

    async with scripted_server(handler) as server:
        crawl = do_images.crawl(
            {"good": "good", "bad": "bad"}, per_page=2, base_url=server.url, rate_limits=()
        )
        async with crawl:
            seen: list[str] = []
            async for found in crawl:
                seen.append(found.account)
                if len(seen) == 1:
                    for _ in range(250):  # at most 5 s for the bad answer to be sent
                        if answered:
                            break
                        await asyncio.sleep(0.02)
                    await asyncio.sleep(0.2)  # time enough for a walk to decode it
                    assert crawl.failures == {}
    assert seen == ["good", "good"]
    assert answered == ["bad"]
    assert isinstance(crawl.failures["bad"], do_images.ResponseDecodeError)
    assert crawl.completed == {"good"}


async def test_each_token_keeps_its_own_windows_and_a_refusal_ends_only_its_account(
    fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    """2 requests a minute per token, no waiting: accounts of 2 pages all fit (one shared
    window would refuse the third request); an account of 4 pages is refused its third."""
    emu, _ = fleet
    accounts = {name: token_of(name) for name in ("acct03", "acct04", "acct05", "acct08")}
    crawl = do_images.crawl(
        accounts,
        per_page=PER_PAGE,
        base_url=emu.url,
        rate_limits=[(2, 60.0)],
        max_rate_limit_wait=0,
    )
    found = await collect(crawl)
    assert crawl.completed == {"acct03", "acct04", "acct05"}  # 6, 8 and 10 images: 2 pages
    assert isinstance(crawl.failures["acct08"], do_images.RateLimitError)  # 16: 4 pages
    assert Counter(item.account for item in found)["acct08"] == 2 * PER_PAGE


async def test_at_most_accounts_in_flight_accounts_are_walked_at_once() -> None:
    in_flight: set[str] = set()
    most = 0

    async def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        nonlocal most
        who = request.headers["Authorization"]
        in_flight.add(who)
        most = max(most, len(in_flight))
        await asyncio.sleep(0.02)
        page = int(request.query["page"])
        answer = _paged(list(range(1, 7)), page, 2)
        if not answer["links"]:
            in_flight.discard(who)  # its last page: the account's walk ends
        return 200, answer, {}

    accounts = {f"a{n}": f"t{n}" for n in range(9)}
    async with scripted_server(handler) as server:
        crawl = do_images.crawl(
            accounts, per_page=2, accounts_in_flight=3, base_url=server.url, rate_limits=()
        )
        found = await collect(crawl)
    assert len(found) == 9 * 6
    assert 1 <= most <= 3


async def test_one_connection_pool_for_every_account() -> None:
    """Walked one after another, 10 accounts reuse one kept-alive connection: one pool."""
    peers: set[object] = set()

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return 200, _paged([1, 2, 3], int(request.query["page"]), 2), {}

    accounts = {f"a{n}": f"t{n}" for n in range(10)}
    async with scripted_server(handler) as server:
        crawl = do_images.crawl(
            accounts, per_page=2, accounts_in_flight=1, base_url=server.url, rate_limits=()
        )
        found = await collect(crawl)
    assert len(found) == 30
    assert len(peers) == 1


async def test_a_given_session_is_used_and_left_open(
    fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = fleet
    sent: list[str] = []

    async def on_start(_: object, __: object, params: aiohttp.TraceRequestStartParams) -> None:
        sent.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        crawl = do_images.crawl(
            accounts_of(held), per_page=PER_PAGE, session=session, base_url=emu.url
        )
        found = await collect(crawl)
        assert not session.closed
        assert len(sent) == len(emu.requests) > 0
    assert len(found) == sum(len(ids) for ids in held.values())


# --- checkpoints ---------------------------------------------------------------------------


def page_of(held: dict[str, list[int]], item: Crawled) -> int:
    return held[item.account].index(item.image.id or 0) // PER_PAGE + 1


async def stop_and_resume(
    held: dict[str, list[int]], checkpoints: do_images.Checkpoints, base_url: URL
) -> None:
    """A crawl stopped after 200 items, re-run with the same checkpoints, loses nothing, and
    repeats only items of pages the first run had not finished."""
    options: dict[str, Any] = {"per_page": PER_PAGE, "accounts_in_flight": 4}
    first = do_images.crawl(
        accounts_of(held), checkpoints=checkpoints, base_url=base_url, **options
    )
    before = await collect(first, limit=200)
    progress = {name: await checkpoints.load(name) for name in held}
    assert len(before) == 200
    assert first.completed < frozenset(held)
    for item in before:
        # Every page before the one of an item taken is done, since pages come in order.
        assert progress[item.account].pages_done >= page_of(held, item) - 1
    second = do_images.crawl(
        accounts_of(held),
        checkpoints=checkpoints,
        base_url=base_url,
        **options,
    )
    after = await collect(second)
    assert second.completed == frozenset(held)
    seen = {(item.account, item.image.id) for item in before + after}
    assert seen == {(name, i) for name, ids in held.items() for i in ids}  # nothing lost
    for item in after:
        done = progress[item.account]
        assert not done.complete
        assert page_of(held, item) > done.pages_done  # only unfinished pages come again
    repeated = {(i.account, i.image.id) for i in before} & {(i.account, i.image.id) for i in after}
    # Only the page being read when the loop left: every other page taken was finished.
    assert len(repeated) <= PER_PAGE
    assert [(await checkpoints.load(name)).complete for name in held] == [True] * len(held)


@pytest.fixture
async def big_fleet() -> AsyncIterator[tuple[Emulator, dict[str, list[int]]]]:
    names = [f"acct{n:02d}" for n in range(12)]
    async with Emulator(
        seed=False, rate_limits=(), tokens={token_of(name): name for name in names}
    ) as emu:
        held = {
            name: [image.id for image in emu.add_images(3 + 7 * n, kind="backup", account=name)]
            for n, name in enumerate(names)
        }
        yield emu, held


async def test_stopped_after_200_and_rerun_with_memory_checkpoints_loses_nothing(
    big_fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = big_fleet
    await stop_and_resume(held, MemoryCheckpoints(), emu.url)
    assert leftover_tasks() == set()


class SwallowingCheckpoints(MemoryCheckpoints):
    """A store whose `load` takes a while and swallows a cancellation, as redis-py 8.1 does
    for about one command in five."""

    async def load(self, account: str) -> do_images.CrawlProgress:
        if account != "acct00":
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.3)
        return await super().load(account)


async def test_leaving_stops_walks_whose_store_swallowed_the_cancellation(
    big_fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = big_fleet
    crawl = do_images.crawl(
        accounts_of(held),
        per_page=PER_PAGE,
        accounts_in_flight=4,
        checkpoints=SwallowingCheckpoints(),
        base_url=emu.url,
    )
    # acct00 loads at once; the three other walks are inside `load` when the loop leaves.
    async with asyncio.timeout(20):  # before the fix, leaving waited forever
        found = await collect(crawl, limit=1)
    assert [item.account for item in found] == ["acct00"]
    assert leftover_tasks() == set()
    # The walks whose cancellation was swallowed in `load` sent nothing after it.
    assert {r.account for r in emu.requests} == {"acct00"}


async def test_a_completed_account_is_skipped_without_a_request(
    fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = fleet
    checkpoints = MemoryCheckpoints()
    await collect(do_images.crawl(accounts_of(held), checkpoints=checkpoints, base_url=emu.url))
    emu.clear_requests()
    again = do_images.crawl(accounts_of(held), checkpoints=checkpoints, base_url=emu.url)
    assert await collect(again) == []
    assert again.completed == frozenset(held)
    assert emu.requests == []


# --- leaving early, exceptions, cancellation -------------------------------------------------


def established_to(port: int) -> int:
    """Client sockets of this machine ESTABLISHED to 127.0.0.1:`port` (from /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            count += int(local.split(":")[1], 16) != port
    return count


needs_proc = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="counts sockets through Linux's /proc/net/tcp"
)


@needs_proc
@pytest.mark.parametrize("how", ["break", "exception", "cancel"])
async def test_leaving_early_stops_every_request_and_leaves_no_task_or_connection(
    big_fleet: tuple[Emulator, dict[str, list[int]]], how: str
) -> None:
    emu, held = big_fleet
    taken = asyncio.Event()

    async def consume() -> int:
        count = 0
        crawl = do_images.crawl(accounts_of(held), per_page=PER_PAGE, base_url=emu.url)
        async with crawl:
            async for _ in crawl:
                count += 1
                if count == 30:
                    taken.set()
                    if how == "break":
                        break
                    if how == "exception":
                        raise RuntimeError("user code")
                    await asyncio.sleep(3600)
        return count

    task = asyncio.create_task(consume())
    await asyncio.wait_for(taken.wait(), 10)
    if how == "cancel":
        task.cancel()
    done, _ = await asyncio.wait([task], timeout=10)
    assert task in done
    if how == "break":
        assert task.result() == 30
    elif how == "exception":
        with pytest.raises(RuntimeError, match="user code"):
            task.result()
    else:
        assert task.cancelled()
    await settle()
    assert leftover_tasks() == set()
    sent = len(emu.requests)
    assert emu.url.port is not None
    for _ in range(100):  # bounded: the kernel sees the sockets close within moments
        if established_to(emu.url.port) == 0:
            break
        await asyncio.sleep(0.02)
    assert established_to(emu.url.port) == 0
    await asyncio.sleep(0.05)
    assert len(emu.requests) == sent  # nothing more was sent


async def test_closing_from_another_task_ends_the_loop_and_leaves_nothing(
    big_fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = big_fleet
    crawl = do_images.crawl(accounts_of(held), per_page=PER_PAGE, base_url=emu.url)
    emu.inject(Fault(kind="latency", delay=3.0, times=None))  # every answer held back
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for _ in crawl:
            seen += 1

    async with crawl:
        task = asyncio.create_task(consume())
        while not emu.faults_served:  # a request is waiting for its answer
            await asyncio.sleep(0.01)
        await crawl.aclose()
        await asyncio.wait_for(task, 2.5)  # the loop ended instead of waiting for answers
    assert seen == 0
    emu.clear_faults()
    await settle()
    assert leftover_tasks() == set()


async def test_a_stalled_consumer_holds_the_walks_back(
    big_fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    """Backpressure: while the consumer holds one item, the walks stop with only the page being
    read decoded and each walk's prefetch spent, far short of every page."""
    emu, held = big_fleet
    total_pages = sum(-(-len(ids) // PER_PAGE) for ids in held.values())
    crawl = do_images.crawl(
        accounts_of(held), per_page=PER_PAGE, accounts_in_flight=2, base_url=emu.url
    )
    async with crawl:
        async for _ in crawl:
            # Wait (at most 10 s) until no request has come for 0.3 s: the walks stalled.
            sent, quiet_since = len(emu.requests), asyncio.get_running_loop().time()
            for _ in range(500):
                await asyncio.sleep(0.02)
                now = asyncio.get_running_loop().time()
                if len(emu.requests) != sent:
                    sent, quiet_since = len(emu.requests), now
                elif now - quiet_since >= 0.3:
                    break
            else:
                pytest.fail("the walks never stalled")
            break
    # The page being read, and each of the 2 walks one page waiting for its turn to be decoded
    # and at most its prefetch window (12 pages by then) in flight.
    assert sent <= 1 + 2 * (1 + 12) < total_pages


async def test_iterating_outside_async_with_is_an_error(
    fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = fleet
    crawl = do_images.crawl(accounts_of(held), base_url=emu.url)
    with pytest.raises(RuntimeError, match="async with"):
        await crawl.__anext__()
    await collect(crawl)
    with pytest.raises(RuntimeError, match="runs once"):
        await collect(crawl)
    assert emu.requests != []


async def test_an_unexpected_error_in_the_checkpoints_stops_the_crawl(
    fleet: tuple[Emulator, dict[str, list[int]]],
) -> None:
    emu, held = fleet

    class Broken(MemoryCheckpoints):
        async def load(self, account: str) -> do_images.CrawlProgress:
            raise OSError("the store is down")

    crawl = do_images.crawl(accounts_of(held), checkpoints=Broken(), base_url=emu.url)
    with pytest.raises(OSError, match="the store is down"):
        await collect(crawl)
    await settle()
    assert leftover_tasks() == set()


# --- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accounts", "options", "error", "message"),
    [
        ({}, {}, ValueError, "accounts must name at least one"),
        ([("a", "t")], {}, TypeError, "accounts must be a mapping"),
        ({1: "t"}, {}, TypeError, "accounts: every name must be a non-empty str"),
        ({"": "t"}, {}, TypeError, "every name must be a non-empty str"),
        ({"a": 7}, {}, TypeError, r"accounts\['a'\]: the token must be a str"),
        ({"a": "  "}, {}, ValueError, r"accounts\['a'\]: token must not be empty"),
        ({"a": "SECRET x"}, {}, ValueError, r"accounts\['a'\]: token must be printable ASCII"),
        ({"a": "t"}, {"accounts_in_flight": 0}, ValueError, "accounts_in_flight must be"),
        ({"a": "t"}, {"accounts_in_flight": 1.5}, TypeError, "accounts_in_flight must be an int"),
        ({"a": "t"}, {"per_page": 0}, ValueError, "per_page must be"),
        ({"a": "t"}, {"per_page": 201}, ValueError, "per_page must be between 1 and 200"),
        ({"a": "t"}, {"type": "snapshot"}, ValueError, "type must be"),
        ({"a": "t"}, {"private": "yes"}, TypeError, "private"),
        ({"a": "t"}, {"checkpoints": {}}, TypeError, "checkpoints must have"),
        ({"a": "t"}, {"session": "s"}, TypeError, "session must be an aiohttp.ClientSession"),
        ({"a": "t"}, {"timeout": -1}, ValueError, "timeout"),
        ({"a": "t"}, {"base_url": "ftp://x"}, ValueError, "base_url"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    emulator: Emulator, accounts: Any, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    options.setdefault("base_url", emulator.url)
    with pytest.raises(error, match=message) as raised:
        do_images.crawl(accounts, **options)
    assert "SECRET" not in str(raised.value)
    await settle()
    assert emulator.requests == []


# --- checkpoints in a real Redis -----------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    pytest.importorskip("redis", reason="the redis extra is not installed: uv sync --all-extras")
    yield from redis_url_for_tests()


async def test_stopped_after_200_and_rerun_with_redis_checkpoints_loses_nothing(
    big_fleet: tuple[Emulator, dict[str, list[int]]], redis_url: str
) -> None:
    from redis.asyncio import Redis

    from do_images.redis import RedisCheckpoints

    emu, held = big_fleet
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    redis = Redis.from_url(redis_url)
    try:
        checkpoints = RedisCheckpoints(redis, prefix=prefix)
        await stop_and_resume(held, checkpoints, emu.url)
        # Keyed by account name, and no token anywhere in the keys or values.
        keys = sorted(
            k.decode() if isinstance(k, bytes) else k for k in await redis.keys(f"{prefix}:*")
        )
        assert keys == sorted(checkpoints.key(name) for name in held)
        assert keys[0] == f"{prefix}:crawl:acct00"
        for key in keys:
            assert "SECRET" not in repr(await redis.hgetall(key))
        # A fresh object on the same keys (another process, say) sees the same progress.
        again = RedisCheckpoints(redis, prefix=prefix)
        assert (await again.load("acct05")).complete
        assert await again.load("never-seen") == do_images.CrawlProgress()
    finally:
        await redis.aclose()


async def test_redis_checkpoints_never_go_back(redis_url: str) -> None:
    from redis.asyncio import Redis

    from do_images.redis import RedisCheckpoints

    redis = Redis.from_url(redis_url)
    try:
        checkpoints = RedisCheckpoints(redis, prefix=f"test-{uuid.uuid4().hex[:10]}")
        await checkpoints.page_done("a", 3)
        await checkpoints.page_done("a", 2)  # a second walker, behind the first
        assert await checkpoints.load("a") == do_images.CrawlProgress(3)
        await checkpoints.account_done("a")
        assert await checkpoints.load("a") == do_images.CrawlProgress(3, complete=True)
        with pytest.raises(ValueError, match="prefix"):
            RedisCheckpoints(redis, prefix="")
    finally:
        await redis.aclose()
