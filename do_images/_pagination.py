"""Page[T] and Paginator[T]: page walking, streaming, bounded prefetch, de-duplication.

The walk asks for `page=1, 2, …` itself and never follows the absolute `links.pages.next`
URL (it names api.digitalocean.com and would escape a proxy, test server or emulator).
A page's `next` link says whether more follow; without `links`, `meta.total` decides.
"""

from __future__ import annotations

import asyncio
import math
import operator
from collections.abc import AsyncGenerator, Coroutine
from contextlib import aclosing
from typing import Any, Generic, TypeVar

import attrs

from ._convert import structure_list
from ._errors import ResponseDecodeError
from ._transport import Params, Response, Transport

T = TypeVar("T")
# How many of a walk's ids de-duplication remembers at least (see RecentIds).
REMEMBERED_IDS = 10_000
# Both models a listing yields carry their id in `.id`.
_item_id = operator.attrgetter("id")


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing, with the items not already yielded earlier in the walk."""

    items: tuple[T, ...]
    page: int
    per_page: int
    total: int | None
    """`meta.total`: how many items the whole listing had when this page was served."""
    has_next: bool


class RecentIds:
    """The ids a walk has yielded, kept in two generations so memory stays flat in N.

    An id comes back only when items inserted ahead of it push it onto a later page, so
    remembering the last `size` to `2 * size` ids catches every repeat unless more than `size`
    items are inserted ahead of one item during a single walk.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._recent: set[object] = set()
        self._older: set[object] = set()

    def keep_new(self, items: list[T], ids: list[object]) -> list[T]:
        """The items whose id was not yielded before (or is None), remembering their ids."""
        if len(self._recent) >= self._size:
            self._older, self._recent = self._recent, set()
        recent, older = self._recent, self._older
        fresh = []
        for item, item_id in zip(items, ids, strict=True):
            if item_id is None or (item_id not in recent and item_id not in older):
                recent.add(item_id)
                fresh.append(item)
        return fresh


def _total(data: dict[str, Any]) -> int | None:
    meta = data.get("meta")
    total = meta.get("total") if isinstance(meta, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _has_next(data: dict[str, Any], page: int, per_page: int, total: int | None) -> bool:
    links = data.get("links")
    if isinstance(links, dict):
        pages = links.get("pages")
        next_link = isinstance(pages, dict) and bool(pages.get("next"))
        # A server whose `next` never ends is still bounded by its own count.
        return next_link and (total is None or page * per_page < total)
    return total is not None and page * per_page < total


class Paginator(Generic[T]):
    """A lazy listing: `async for item in paginator` or `async for page in paginator.pages()`.

    Nothing is sent until iteration starts. With `concurrency` above 1, once page 1 tells the
    total, up to that many page requests are in flight; items still come in page order and
    memory holds at most about `concurrency` pages. An id is not yielded twice in one walk
    (unless over 10,000 items are inserted ahead of it meanwhile, see RecentIds); if items are
    deleted while the walk runs, items may shift onto pages already read and be missed (as
    with any offset-paged API).
    """

    def __init__(
        self,
        transport: Transport,
        path: tuple[str | int, ...],
        params: Params,
        *,
        key: str,
        item_type: type[T],
        per_page: int,
        concurrency: int,
    ) -> None:
        self._transport = transport
        self._path = path
        self._params = params
        self._key = key
        self._item_type = item_type
        self._per_page = per_page
        self._concurrency = concurrency

    def __repr__(self) -> str:
        return f"<Paginator {'/'.join(map(str, self._path))} {self._params}>"

    async def __aiter__(self) -> AsyncGenerator[T, None]:
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.items:
                    yield item

    async def pages(self) -> AsyncGenerator[Page[T], None]:
        """Every page in order, each holding only items not seen earlier in this walk."""
        seen = RecentIds(max(REMEMBERED_IDS, self._per_page * (self._concurrency + 2)))
        previous_ids: list[object] | None = None
        async with aclosing(self._responses()) as responses:
            async for number, response in responses:
                data = response.data
                if not isinstance(data, dict) or self._key not in data:
                    raise ResponseDecodeError(
                        f"page {number}: expected an object with {self._key!r}",
                        status=response.status,
                        body=response.body,
                    )
                items = structure_list(
                    data[self._key],
                    self._item_type,
                    where=self._key,
                    status=response.status,
                    body=response.body,
                )
                ids = list(map(_item_id, items))
                if number > 1 and ids and ids == previous_ids:
                    raise ResponseDecodeError(
                        f"page {number} repeats page {number - 1}; the server ignores `page`",
                        status=response.status,
                    )
                previous_ids = ids
                fresh = seen.keep_new(items, ids)
                total = _total(data)
                has_next = bool(items) and _has_next(data, number, self._per_page, total)
                yield Page(tuple(fresh), number, self._per_page, total, has_next)
                if not has_next:
                    return

    def _fetch(self, number: int) -> Coroutine[Any, Any, Response]:
        params = {**self._params, "page": number, "per_page": self._per_page}
        return self._transport.request("GET", *self._path, params=params)

    async def _responses(self) -> AsyncGenerator[tuple[int, Response], None]:
        """Pages 1, 2, … as answers, prefetching up to `concurrency` once the total is known.

        The consumer stops the walk; pages requested ahead that it never reaches are
        cancelled when this generator closes (break, error or cancellation).
        """
        first = await self._fetch(1)
        yield 1, first
        last = _last_page(first.data, self._per_page)
        if self._concurrency <= 1 or last is None:
            number = 2
            while True:
                yield number, await self._fetch(number)
                number += 1
        in_flight: dict[int, asyncio.Task[Response]] = {}
        number = 2
        try:
            while True:
                while len(in_flight) < self._concurrency and number + len(in_flight) <= last:
                    ahead = number + len(in_flight)
                    in_flight[ahead] = asyncio.ensure_future(self._fetch(ahead))
                task = in_flight.pop(number, None)
                response = await task if task is not None else await self._fetch(number)
                yield number, response
                # A collection that grew during the walk raises the total in later pages.
                last = max(last, _last_page(response.data, self._per_page) or last)
                number += 1
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)


def _last_page(data: Any, per_page: int) -> int | None:
    total = _total(data) if isinstance(data, dict) else None
    return None if total is None else max(1, math.ceil(total / per_page))
