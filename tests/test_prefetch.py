"""Prefetch semantics: order, no duplicates while the collection changes, errors, early exit."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

import do_images
from do_images.testing import Emulator

from .conftest import leftover_tasks
from .scripted import scripted_server


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
        original = [image["id"] for image in emu.add_images(60, kind="snapshot")]
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
        original = [image["id"] for image in emu.add_images(50, kind="snapshot")]
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
