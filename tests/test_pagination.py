"""Pagination: every id once, in order, with the fewest requests; filters; early exit."""

from __future__ import annotations

import asyncio
import gzip
import math
import random
import time

import orjson
import pytest
from aiohttp import web

import do_images
from do_images._pagination import MAX_STALE_PAGES, PageFacts, RecentIds, page_facts
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN, FakeTime, leftover_tasks
from .support.scripted import scripted_server


def _list_requests(emulator: Emulator) -> list[dict[str, str]]:
    return [r.query for r in emulator.requests if r.path == "/v2/images"]


# Every count at 200 and 37 per page; one-item pages only up to 201 items (1,234 adds nothing).
WALKS = [
    (count, per_page)
    for count in (0, 1, 199, 200, 201, 1234)
    for per_page in (200, 37, 1)
    if not (per_page == 1 and count > 201)
]


@pytest.mark.parametrize(("count", "per_page"), WALKS)
@pytest.mark.parametrize("concurrency", [1, 4])
async def test_every_id_once_in_order_with_minimal_requests(
    emulator: Emulator, client: do_images.Client, count: int, per_page: int, concurrency: int
) -> None:
    ids = [image.id for image in emulator.add_images(count, kind="distribution")]
    seen = [
        image.id async for image in client.images.list(per_page=per_page, concurrency=concurrency)
    ]
    assert seen == ids
    pages = _list_requests(emulator)
    expected_pages = max(1, math.ceil(count / per_page))
    assert sorted(int(q["page"]) for q in pages) == list(range(1, expected_pages + 1))
    assert {q["per_page"] for q in pages} == {str(per_page)}


async def test_pages_expose_number_total_and_items(
    emulator: Emulator, client: do_images.Client
) -> None:
    ids = [image.id for image in emulator.add_images(5)]
    pages = [page async for page in client.images.list(per_page=2).pages()]
    assert [(p.page, p.per_page, p.total, p.has_next) for p in pages] == [
        (1, 2, 5, True),
        (2, 2, 5, True),
        (3, 2, 5, False),
    ]
    assert [image.id for page in pages for image in page.items] == ids
    assert all(isinstance(i, do_images.Image) for p in pages for i in p.items)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"type": "distribution"}, {"type": "distribution"}),
        ({"type": "application"}, {"type": "application"}),
        ({"private": True}, {"private": "true"}),
        ({"private": False}, {"private": "false"}),
        ({"tag_name": "prod"}, {"tag_name": "prod"}),
    ],
)
async def test_filters_are_forwarded(
    emulator: Emulator,
    client: do_images.Client,
    kwargs: dict[str, object],
    expected: dict[str, str],
) -> None:
    emulator.add_images(3, kind="distribution", tags=["prod"])
    emulator.add_images(2, kind="application")
    emulator.add_images(2, kind="snapshot", tags=["prod"])
    listed = [image async for image in client.images.list(per_page=2, **kwargs)]  # type: ignore[arg-type]
    queries = _list_requests(emulator)
    assert queries[0] == {**expected, "page": "1", "per_page": "2"}
    assert all(q.items() >= expected.items() for q in queries)
    if kwargs.get("type") == "distribution":
        assert len(listed) == 3
    if kwargs.get("private") is True:
        assert len(listed) == 2
        assert all(i.public is False for i in listed)
    if "tag_name" in kwargs:
        assert len(listed) == 5
        assert all(i.tags and "prod" in i.tags for i in listed)


async def test_list_is_lazy(emulator: Emulator, client: do_images.Client) -> None:
    paginator = client.images.list(type="distribution")
    assert isinstance(paginator, do_images.Paginator)
    await asyncio.sleep(0)
    assert emulator.requests == []


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_break_sends_no_further_request_and_leaves_nothing(
    emulator: Emulator, client: do_images.Client, concurrency: int
) -> None:
    emulator.add_images(50)
    seen = 0
    async for _ in client.images.list(per_page=5, concurrency=concurrency):
        seen += 1
        if seen == 7:
            break
    await _settle()
    sent = len(emulator.requests)
    # Page 2 was needed; prefetch starts slow: at page 2 at most 2 pages (3 and 4) were asked
    # ahead, and a request cancelled before it left is never sent.
    assert (2 if concurrency == 1 else 3) <= sent <= (2 if concurrency == 1 else 4)
    await asyncio.sleep(0.05)
    assert len(emulator.requests) == sent
    assert leftover_tasks() == set()


async def test_exception_in_the_loop_cancels_prefetch(
    emulator: Emulator, client: do_images.Client
) -> None:
    emulator.add_images(100)

    async def crawl() -> None:
        async for _ in client.images.list(per_page=10, concurrency=3):
            raise RuntimeError("user code")

    with pytest.raises(RuntimeError, match="user code"):
        await crawl()
    await _settle()
    assert leftover_tasks() == set()
    assert len(emulator.requests) <= 4


async def test_cancelling_the_crawl_leaves_nothing(emulator: Emulator) -> None:
    emulator.add_images(100)
    gate = asyncio.Event()

    async def crawl(client: do_images.Client) -> None:
        async for _ in client.images.list(per_page=10, concurrency=3):
            gate.set()
            await asyncio.sleep(3600)

    async with do_images.Client(TOKEN, base_url=emulator.url, rate_limits=()) as client:
        task = asyncio.create_task(crawl(client))
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _settle()
        assert leftover_tasks() == set()


def _page_body(ids: list[int], **extra: object) -> dict[str, object]:
    return {"images": [{"id": i} for i in ids], **extra}


async def test_missing_links_fall_back_to_meta_total(fake_time: FakeTime) -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        page = int(request.query["page"])
        return 200, _page_body([page * 10 + 1, page * 10 + 2], meta={"total": 5}), {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            ids = [i.id async for i in client.images.list(per_page=2, concurrency=1)]
    assert ids == [11, 12, 21, 22, 31, 32]
    assert [q["page"] for q in server.queries] == ["1", "2", "3"]


async def test_next_link_without_meta_is_walked_by_page_number_not_url() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        page = int(request.query["page"])
        links = {"pages": {"next": "https://api.digitalocean.com/v2/images/?page=999"}}
        return 200, _page_body([page], links=links if page < 3 else {}), {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            ids = [i.id async for i in client.images.list(per_page=1, concurrency=4)]
    assert ids == [1, 2, 3]
    assert [q["page"] for q in server.queries] == ["1", "2", "3"]


async def test_a_repeated_page_is_an_error_not_a_loop() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        return 200, _page_body([1, 2], links={"pages": {"next": "x"}}), {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            with pytest.raises(do_images.ResponseDecodeError, match="page 3 and the 1 before"):
                [i async for i in client.images.list(per_page=2)]
    # Without a total nothing is fetched ahead: pages 1, 2 and 3, then the error.
    assert len(server.requests) == 3


async def test_an_empty_page_ends_the_walk() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        page = int(request.query["page"])
        ids = [page] if page < 3 else []
        return 200, _page_body(ids, links={"pages": {"next": "x"}}), {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            ids = [i.id async for i in client.images.list(per_page=1)]
    assert ids == [1, 2]
    assert len(server.requests) == 3


def test_recent_ids_catch_repeats_within_the_window_and_stay_bounded() -> None:
    seen = RecentIds(size=1_000)
    rng = random.Random(4)
    ids = [do_images.Image(id=i) for i in rng.sample(range(10**12), 5_000)]
    for start in range(0, len(ids), 100):
        page = ids[start : start + 100]
        assert seen.keep_new(page) == (page, True)
        # Each earlier id within the last 1,000 is still recognised as a repeat.
        window = ids[max(0, start + 100 - 1_000) : start + 100]
        assert seen.keep_new(window) == ([], False)
    # Memory holds two generations at most, however long the walk.
    assert len(seen._recent) + len(seen._older) <= 2 * 1_000


# --- the stop rule as a table: page_facts needs no server -----------------------------------

FACTS = [
    # number, served, before, page size, total, next link -> has_next, last page, problem?
    (1, 200, 0, 200, 1000, True, True, 5, False),  # an honest first page
    (5, 200, 800, 200, 1000, False, False, 5, False),  # an honest last page
    (1, 20, 0, 20, 1000, True, True, 50, False),  # 20 served when 200 were asked: 50 pages
    (1, 200, 0, 200, 200, True, True, 1, False),  # total lower than the pages hold: follow next
    (3, 200, 400, 200, 200, False, False, 1, False),  # ...until the links end
    (2, 0, 200, 200, 200, True, False, 1, False),  # an empty page past the total ends it
    (4, 0, 3, 1, 10**12, True, False, 10**12, True),  # an empty page short of the total
    (2, 100, 200, 200, 1000, False, False, 5, True),  # no next link, but the total says more
    (1, 5, 0, 200, 12, None, True, 1, False),  # no links: meta.total decides
    (3, 2, 10, 5, 12, None, False, 3, False),  # ...and ends the walk when reached
    (1, 5, 0, 200, None, None, False, None, False),  # neither links nor total: one page
    (1, 5, 0, 5, None, True, True, None, False),  # a next link alone: go on, nothing ahead
    (1, 0, 0, 200, 0, False, False, 1, False),  # an empty listing
]


@pytest.mark.parametrize(
    ("number", "served", "before", "size", "total", "next_link", "has_next", "last", "problem"),
    FACTS,
)
def test_page_facts(
    number: int,
    served: int,
    before: int,
    size: int,
    total: int | None,
    next_link: bool | None,
    has_next: bool,
    last: int | None,
    problem: bool,
) -> None:
    facts = page_facts(
        number=number,
        served=served,
        served_before=before,
        page_size=size,
        total=total,
        next_link=next_link,
    )
    assert (facts.has_next, facts.last_page, facts.problem is not None) == (has_next, last, problem)
    assert isinstance(facts, PageFacts)


# --- walks against servers that serve less, lie or cycle ---------------------------------


def _capped_server(count: int, served_per_page: int, *, total: int | None = None) -> object:
    """Serves `served_per_page` items a page whatever was asked, with next links."""

    def handler(request):  # type: ignore[no-untyped-def]
        page = int(request.query["page"])
        start = (page - 1) * served_per_page
        ids = list(range(start + 1, min(start + served_per_page, count) + 1))
        links = {"pages": {"next": "n"}} if start + served_per_page < count else {}
        meta = {"total": count if total is None else total}
        return 200, _page_body(ids, links=links, meta=meta), {}

    return handler


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_a_server_serving_fewer_than_asked_is_walked_to_the_end(concurrency: int) -> None:
    async with scripted_server(_capped_server(1000, 20)) as server:  # type: ignore[arg-type]
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            paginator = client.images.list(per_page=200, concurrency=concurrency)
            ids = [i.id async for i in paginator]
    assert ids == list(range(1, 1001))
    # Prefetch sized itself from the 20 served, not the 200 asked: no page past 50.
    assert sorted(int(q["page"]) for q in server.queries) == list(range(1, 51))


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_a_total_lower_than_the_pages_hold_does_not_cut_the_walk(concurrency: int) -> None:
    async with scripted_server(_capped_server(600, 200, total=200)) as server:  # type: ignore[arg-type]
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            ids = [i.id async for i in client.images.list(concurrency=concurrency)]
    assert ids == list(range(1, 601))
    assert [q["page"] for q in server.queries] == ["1", "2", "3"]


async def test_pages_that_cycle_end_with_an_error_naming_the_page() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        page = int(request.query["page"])
        ids = [1, 2] if page % 2 else [3, 4]  # A, B, A, B, ...
        return 200, _page_body(ids, links={"pages": {"next": "n"}}, meta={"total": 10**6}), {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            with pytest.raises(do_images.ResponseDecodeError, match="page 4 and the 1 before"):
                [i async for i in client.images.list(per_page=2, concurrency=4)]
    # Bounded: a few pages, not the whole quota (prefetch may have asked a few ahead).
    assert 2 + MAX_STALE_PAGES <= len(server.requests) <= 2 + MAX_STALE_PAGES + 4


async def test_an_item_without_an_id_ends_the_walk_with_a_decode_error_naming_it() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        page = int(request.query["page"])
        items = [{"id": page * 10 + n} for n in range(2)]
        if page == 2:
            items[1] = {"name": "no id"}
        links = {"pages": {"next": "n"}} if page < 3 else {}
        return 200, {"images": items, "links": links, "meta": {"total": 6}}, {}

    images: list[do_images.Image] = []

    async def walk(client: do_images.Client) -> None:
        async for image in client.images.list(per_page=2, concurrency=1):
            images.append(image)

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            with pytest.raises(do_images.ResponseDecodeError, match=r"^images\[1\]\.id: required"):
                await walk(client)
    assert [i.id for i in images] == [10, 11]  # page 1's items, then the error: never partial


@pytest.mark.parametrize("concurrency", [2, 5, 16])
async def test_items_come_in_page_order_whatever_order_pages_finish(concurrency: int) -> None:
    async def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        # Later pages answer first: page 2 is the slowest of all.
        await asyncio.sleep(0.002 * (12 - page) if page > 1 else 0)
        ids = [page * 100 + i for i in range(3)]
        body = {"images": [{"id": i} for i in ids], "meta": {"total": 30}}
        return 200, {**body, "links": {"pages": {"next": "n"}} if page < 10 else {}}, {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            ids = [i.id async for i in client.images.list(per_page=3, concurrency=concurrency)]
    assert ids == [page * 100 + i for page in range(1, 11) for i in range(3)]
    assert sorted(q["page"] for q in server.queries) == sorted(str(p) for p in range(1, 11))


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_insertions_during_the_walk_yield_no_id_twice(concurrency: int) -> None:
    async with Emulator(seed=False, rate_limits=()) as emu:
        original = [image.id for image in emu.add_images(60, kind="snapshot")]
        async with do_images.Client("t", base_url=emu.url, rate_limits=()) as client:
            seen = []
            async for image in client.images.list(
                private=True, per_page=10, concurrency=concurrency
            ):
                seen.append(image.id)
                if len(seen) in (5, 25):
                    # New images sorting before everything push every later item one page on.
                    for low_id in range(len(seen), len(seen) + 4):
                        emu.add_image(kind="snapshot", id=low_id)
    assert len(seen) == len(set(seen))
    # Insertions never cost an original item (they are pushed forward, not back).
    assert set(original) <= set(seen)


async def test_deletions_during_the_walk_yield_no_id_twice_and_miss_only_shifted_items() -> None:
    async with Emulator(seed=False, rate_limits=()) as emu:
        original = [image.id for image in emu.add_images(50, kind="snapshot")]
        async with do_images.Client("t", base_url=emu.url, rate_limits=()) as client:
            seen = []
            async for image in client.images.list(private=True, per_page=10, concurrency=1):
                seen.append(image.id)
                if len(seen) == 10:
                    for gone in original[:3]:
                        await client.images.delete(gone)
    assert len(seen) == len(set(seen))
    missed = set(original) - set(seen)
    # Deleting 3 already-read items shifts 3 unread ones onto the page already read.
    assert missed == set(original[10:13])


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_failing_middle_page_raises_after_the_pages_before_it(concurrency: int) -> None:
    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        if page == 3:
            return 500, {"id": "server_error", "message": "boom"}, {}
        body = {"images": [{"id": page * 10 + i} for i in range(2)], "meta": {"total": 12}}
        return 200, {**body, "links": {"pages": {"next": "n"}}}, {}

    seen: list[int | None] = []

    async def crawl(client: do_images.Client) -> None:
        async for image in client.images.list(per_page=2, concurrency=concurrency):
            seen.append(image.id)

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=(), max_retries=0) as c:
            with pytest.raises(do_images.ServerError, match="boom"):
                await crawl(c)
    assert seen == [10, 11, 20, 21]
    await asyncio.sleep(0)
    assert leftover_tasks() == set()


async def test_breaking_out_cancels_every_prefetched_request() -> None:
    started, abandoned = [], []

    async def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        started.append(page)
        await asyncio.sleep(0 if page <= 2 else 0.3)
        if request.transport is None or request.transport.is_closing():
            abandoned.append(page)  # the client hung up on this request
        body = {"images": [{"id": page}], "meta": {"total": 100}}
        return 200, {**body, "links": {"pages": {"next": "n"}}}, {}

    async with scripted_server(handler) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            async for image in client.images.list(per_page=1, concurrency=6):
                if image.id == 2:
                    break
            for _ in range(5):
                await asyncio.sleep(0)
            assert leftover_tasks() == set()
        await asyncio.sleep(0.4)  # let the server's handlers notice
    # Prefetch starts slow: pages 3 and 4 were asked ahead when the loop left at page 2 (page
    # 4 may be cancelled before it left); each that reached the server was abandoned.
    assert sorted(started) in ([1, 2, 3], [1, 2, 3, 4])
    assert sorted(abandoned) == sorted(started)[2:]


PAGES, PER_PAGE = 120, 50


def _faults(emulator: Emulator) -> None:
    """About 12% of requests misbehave: 5xx, 429, dropped connections, slow answers."""
    for fault in (
        Fault(kind="status", status=503, probability=0.04, times=None),
        Fault(kind="status", status=500, probability=0.01, times=None),
        Fault(
            kind="status", status=429, probability=0.03, times=None, headers={"retry-after": "1"}
        ),
        Fault(kind="drop", probability=0.03, times=None),
        Fault(kind="latency", delay=0.02, probability=0.03, times=None),
    ):
        emulator.inject(fault)


async def test_soak_crawl_survives_faults_with_no_duplicate_or_loss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeTime(start=time.time())
    async with Emulator(seed=False, rate_limits=(), random_seed=7) as emulator:
        expected = [image.id for image in emulator.add_images(PAGES * PER_PAGE)]
        _faults(emulator)
        async with do_images.Client(
            "t", base_url=emulator.url, rate_limits=(), clock=fake
        ) as client:
            ids = [i.id async for i in client.images.list(per_page=PER_PAGE, concurrency=8)]
        served = emulator.faults_served
        attempts = served + len([r for r in emulator.requests if r.fault is None])
    assert ids == expected
    assert len(set(ids)) == len(ids) == PAGES * PER_PAGE
    assert served >= 0.10 * PAGES, f"only {served} faults were injected"
    with capsys.disabled():
        print(f"\nsoak: {PAGES} pages, {attempts} requests, {served} faults survived")


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(kind="status", status=503, times=None), do_images.ServerError),
        (Fault(kind="drop", times=None), do_images.APIConnectionError),
        (
            Fault(kind="status", status=429, times=None, headers={"retry-after": "5"}),
            do_images.RateLimitError,
        ),
    ],
)
async def test_permanent_faults_fail_typed_within_the_deadline(
    fault: Fault, error: type[Exception]
) -> None:
    fake = FakeTime(start=time.time())
    async with Emulator(seed=False, rate_limits=()) as emulator:
        emulator.add_images(500)
        emulator.inject(fault)
        async with do_images.Client(
            "t",
            base_url=emulator.url,
            rate_limits=(),
            max_retries=100,
            clock=fake,
        ) as client:
            start = fake.now
            with client.deadline(30), pytest.raises(error):
                [image async for image in client.images.list(per_page=50, concurrency=4)]
    assert fake.now - start <= 30


def _one_try(url: object, **options: object) -> do_images.Client:
    return do_images.Client("t", base_url=url, rate_limits=(), max_retries=0, **options)  # type: ignore[arg-type]


async def test_absurd_meta_total_is_an_error_at_the_first_empty_page() -> None:
    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        ids = [page] if page <= 3 else []
        body = {"images": [{"id": i} for i in ids], "links": {"pages": {"next": "n"}}}
        return 200, {**body, "meta": {"total": 10**12}}, {}

    seen: list[int | None] = []

    async def walk(client: do_images.Client) -> None:
        async for image in client.images.list(per_page=1, concurrency=4):
            seen.append(image.id)

    async with scripted_server(handler) as server:
        async with _one_try(server.url) as client:
            # Three items where the total promises a trillion: not passed off as complete.
            with pytest.raises(do_images.ResponseDecodeError, match="page 4 is empty"):
                await walk(client)
    assert seen == [1, 2, 3]
    # Pages 1-4 were needed; at most `concurrency` more were in flight and were cancelled.
    assert len(server.requests) <= 4 + 4


async def test_a_next_link_that_never_ends_stops_at_the_empty_page_past_the_total() -> None:
    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        links = {"pages": {"next": "https://api.digitalocean.com/v2/images?page=2"}}
        ids = [page] if page <= 4 else []
        body = {"images": [{"id": i} for i in ids], "links": links, "meta": {"total": 4}}
        return 200, body, {}

    async with scripted_server(handler) as server:
        async with _one_try(server.url) as client:
            ids = [i.id async for i in client.images.list(per_page=1, concurrency=1)]
    assert ids == [1, 2, 3, 4]
    assert len(server.requests) == 5


# --- resuming a walk ------------------------------------------------------------------------


@pytest.mark.parametrize(("per_page", "stop_after"), [(200, 2), (37, 5), (37, 1), (50, 9)])
@pytest.mark.parametrize("concurrency", [1, 8])
async def test_start_page_resumes_a_walk_exactly(
    emulator: Emulator, client: do_images.Client, per_page: int, stop_after: int, concurrency: int
) -> None:
    emulator.add_images(456)
    everything = [i.id async for i in client.images.list(per_page=per_page)]
    first: list[int | None] = []
    checkpoint = 0
    async for page in client.images.list(per_page=per_page, concurrency=concurrency).pages():
        first.extend(image.id for image in page.items)
        checkpoint = page.page  # what a crawler would store
        if page.page == stop_after:
            break
    rest = client.images.list(per_page=per_page, concurrency=concurrency, start_page=checkpoint + 1)
    resumed = [i.id async for i in rest]
    assert first + resumed == everything
    assert len(set(everything)) == 456


async def test_start_page_past_the_end_yields_nothing(
    emulator: Emulator, client: do_images.Client
) -> None:
    emulator.add_images(30)
    assert [i async for i in client.images.list(per_page=10, start_page=4)] == []
    assert [i async for i in client.images.list(per_page=10, start_page=9)] == []


async def test_image_actions_resume_too(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(kind="snapshot")
    for region in ("ams3", "fra1", "lon1", "sgp1", "tor1"):
        await client.image_actions.transfer(stored.id, region=region)
    everything = [a.id async for a in client.image_actions.list(stored.id, per_page=2)]
    pages = client.image_actions.list(stored.id, per_page=2, start_page=2)
    assert [a.id async for a in pages] == everything[2:]
    assert len(everything) == 5


@pytest.mark.parametrize("start_page", [0, -1, 1.5, "2"])
def test_start_page_must_be_a_positive_int(client: do_images.Client, start_page: object) -> None:
    with pytest.raises((ValueError, TypeError), match="start_page"):
        client.images.list(start_page=start_page)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError), match="start_page"):
        client.image_actions.list(1, start_page=start_page)  # type: ignore[arg-type]


async def test_default_prefetch_starts_slow_so_leaving_early_wastes_little(
    emulator: Emulator,
) -> None:
    stored = emulator.add_images(100 * 20)
    first_of_page_two = stored[20].id
    async with do_images.Client("t", base_url=emulator.url, rate_limits=()) as client:
        async for image in client.images.list(per_page=20):  # default settings otherwise
            if image.id == first_of_page_two:
                break
        await asyncio.sleep(0.05)  # let anything already sent arrive
    pages = sorted(int(r.query["page"]) for r in emulator.requests)
    assert pages[:2] == [1, 2]
    # At most 2 page requests beyond page 2 (pages 3 and 4), not a window of 64.
    assert len(pages) <= 4


# --- issue 15 class 7: the bytes a walk holds ahead are bounded, not only the pages ---------


@pytest.mark.parametrize(("budget_pages", "concurrency"), [(3, 64), (1, 64), (8, 4)])
async def test_prefetch_holds_at_most_max_prefetch_bytes_of_pages(
    budget_pages: int, concurrency: int
) -> None:
    pages, filler = 20, "x" * 1_000_000  # 1 MB a page decompressed, a few KB gzipped
    consumed = [0]  # the last page the consumer has taken
    ahead: list[int] = []  # at each request: how far past the consumer's page it asked

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        ahead.append(page - consumed[0])
        links = {"pages": {"next": "n"}} if page < pages else {}
        body = {"images": [{"id": page, "description": filler}], "links": links}
        raw = orjson.dumps({**body, "meta": {"total": pages}})
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return 200, gzip.compress(raw, compresslevel=1), headers

    page_bytes = len(filler) + 200
    async with scripted_server(handler) as server:
        async with do_images.Client(
            TOKEN,
            base_url=server.url,
            rate_limits=(),
            max_prefetch_bytes=budget_pages * page_bytes,
        ) as client:
            async for page in client.images.list(per_page=1, concurrency=concurrency).pages():
                consumed[0] = page.page
                await asyncio.sleep(0.02)  # a slow consumer: prefetch would run far ahead
    assert consumed[0] == pages
    assert sorted(int(r.query["page"]) for r in server.requests) == list(range(1, pages + 1))
    # The page needed next always goes; beyond it, only what fits the budget (which holds the
    # page needed next too): never more pages held or in flight than the budget allows.
    assert max(ahead) <= max(1, budget_pages), ahead
    if budget_pages > 1:
        assert max(ahead) > 1  # prefetch still runs ahead within the budget


def test_max_prefetch_bytes_is_checked() -> None:
    with pytest.raises(ValueError, match="max_prefetch_bytes"):
        do_images.Client("t", max_prefetch_bytes=0)
