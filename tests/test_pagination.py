"""Pagination: every id once, in order, with the fewest requests; filters; early exit."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

import do_images
from do_images._pagination import RecentIds
from do_images.testing import Emulator

from .conftest import TOKEN, FakeTime, leftover_tasks
from .scripted import scripted_server


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
    ids = [image["id"] for image in emulator.add_images(count, kind="distribution")]
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
    ids = [image["id"] for image in emulator.add_images(5)]
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
    # Items without an id are never taken for repeats, and count as new.
    nameless = [do_images.Image(name="a"), do_images.Image(name="a")]
    assert seen.keep_new(nameless) == (nameless, True)
    # Memory holds two generations at most, however long the walk.
    assert len(seen._recent) + len(seen._older) <= 2 * 1_000
