"""Page[T] and Paginator[T]: page walking, streaming, prefetch that starts slow, de-duplication.

The walk asks for `page=N, N+1, …` itself and never follows the absolute `links.pages.next`
URL (it names api.digitalocean.com and would escape a proxy, test server or emulator).
Whether another page follows is decided by one pure function, `page_facts`, from what the
pages actually served; facts that contradict each other raise rather than end the walk early.
"""

from __future__ import annotations

import asyncio
import functools
import math
import operator
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from typing import Generic, TypeVar

import attrs

from ._call import Params, Response, Transport
from ._convert import decode_page
from ._errors import ResponseDecodeError

T = TypeVar("T")
# How many of a walk's ids de-duplication remembers at least (see RecentIds).
REMEMBERED_IDS = 10_000
# A walk ends with ResponseDecodeError after this many pages in a row that bring no new item:
# a server that cycles through pages (A, B, A, B, …) would otherwise be walked forever.
MAX_STALE_PAGES = 2
# Both models a listing yields carry their id in `.id`.
_item_id = operator.attrgetter("id")


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing, with the items not already yielded earlier in the walk."""

    items: tuple[T, ...]
    """The page's items, less any yielded earlier in this walk."""
    page: int
    """The page's number: checkpoint it and pass ``start_page=`` to resume the walk."""
    per_page: int
    """The page size asked for."""
    total: int | None
    """`meta.total`: how many items the whole listing had when this page was served."""
    has_next: bool
    """Whether the walk goes on after this page."""


@attrs.frozen
class PageFacts:
    """What one page says about the walk: whether it goes on, and how far it should go."""

    has_next: bool
    """Fetch another page after this one."""
    last_page: int | None
    """The last page number that `meta.total` and the served page size imply (None unknown):
    how far ahead prefetch may reach without a speculative request."""
    problem: str | None = None
    """Why the facts contradict each other so that completeness cannot be judged."""


# How a walk has its pages read (see Paginator.rebound): given a page's read, its outcome.
ReadWith = Callable[[Callable[[], tuple[Page[T], PageFacts]]], Awaitable[tuple[Page[T], PageFacts]]]


def _held(task: asyncio.Task[Response], largest: int) -> int:
    """The bytes a page fetched ahead holds, or may bring while it is still in flight."""
    if not task.done():
        return largest
    if task.cancelled() or task.exception() is not None:
        return 0
    return len(task.result().body)


def page_facts(
    *,
    number: int,
    served: int,
    served_before: int,
    page_size: int,
    total: int | None,
    next_link: bool | None,
) -> PageFacts:
    """The stop rule, used by both the prefetcher and the consumer.

    `served` items came on page `number`, `served_before` on the pages before it; the server
    serves `page_size` items a page (what a full page held, whatever was asked). The walk goes
    on while `links.pages.next` says so, or (without links) while fewer items were served than
    `meta.total`. An empty page ends it, unless the total says items are still missing.
    """
    seen = served_before + served
    short = total is not None and seen < total
    last_page = None if total is None else max(1, math.ceil(total / max(1, page_size)))
    if served == 0:
        problem = None
        if short:
            problem = f"page {number} is empty, but meta.total is {total} and {seen} were served"
        return PageFacts(False, last_page, problem)
    if next_link is None:
        return PageFacts(short, last_page)
    if not next_link and short:
        return PageFacts(
            False,
            last_page,
            f"page {number} has no next link, but meta.total is {total} and {seen} were served",
        )
    return PageFacts(next_link, last_page)


class RecentIds:
    """The ids a walk has yielded, kept in two generations so memory stays flat in N.

    An id comes back only when items inserted ahead of it push it onto a later page, so
    remembering the last `size` to `2 * size` ids catches every repeat unless more than `size`
    items are inserted ahead of one item during a single walk. Items without an id are never
    taken for repeats.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._recent: set[object] = set()
        self._older: set[object] = set()

    def keep_new(self, items: list[T]) -> tuple[list[T], bool]:
        """The items not yielded before (remembering their ids), and whether the page brought
        anything new: an item with an unseen id."""
        if len(self._recent) >= self._size:
            self._older, self._recent = self._recent, set()
        recent, older = self._recent, self._older
        unique = set(map(_item_id, items))
        if len(unique) == len(items) and unique.isdisjoint(recent) and unique.isdisjoint(older):
            recent |= unique  # the usual page: nothing seen before, found with set operations
            return items, bool(items)
        fresh: list[T] = []
        anything_new = False
        for item in items:
            item_id = _item_id(item)
            if item_id not in recent and item_id not in older:
                recent.add(item_id)
                fresh.append(item)
                anything_new = True
        return fresh, anything_new


class PageReader(Generic[T]):
    """Reads one walk's answers in page order: decodes each, drops the items already yielded,
    and tells from what the pages served whether the walk goes on (see page_facts)."""

    def __init__(self, *, key: str, item_type: type[T], per_page: int, remember: int) -> None:
        self._key = key
        self._item_type = item_type
        self._per_page = per_page
        self._seen = RecentIds(remember)
        self._served_before: int | None = None
        self._page_size = per_page
        self._stale = 0

    def read(self, number: int, response: Response) -> tuple[Page[T], PageFacts]:
        """Page `number` from its answer, and its facts; ResponseDecodeError if it does not
        decode or the walk brings nothing new (see MAX_STALE_PAGES)."""
        body = decode_page(response.body, self._key, self._item_type, status=response.status)
        served = len(body.items)
        served_before = self._served_before
        if served_before is None:
            # A page with more after it shows the page size the server really serves (it may
            # serve fewer than asked); a resumed walk assumes the pages before it were as full.
            more = body.next_link
            if more is None:  # no links: only page 1's count can be held to the total
                more = number == 1 and body.total is not None and served < body.total
            if more and served:
                self._page_size = served
            served_before = (number - 1) * self._page_size
        facts = page_facts(
            number=number,
            served=served,
            served_before=served_before,
            page_size=self._page_size,
            total=body.total,
            next_link=body.next_link,
        )
        fresh, anything_new = self._seen.keep_new(body.items)
        self._stale = 0 if anything_new or not served else self._stale + 1
        if self._stale >= MAX_STALE_PAGES:
            raise ResponseDecodeError(
                f"page {number} and the {self._stale - 1} before it brought no new item;"
                " the server seems to ignore `page`",
                status=response.status,
            )
        self._served_before = served_before + served
        page = Page(tuple(fresh), number, self._per_page, body.total, facts.has_next)
        return page, facts


class Paginator(Generic[T]):
    """A lazy listing: `async for item in paginator` or `async for page in paginator.pages()`.

    Nothing is sent until iteration starts. Prefetch starts slow: once page 1 tells the
    total, up to 3 pages are in flight, then 12, 48, … up to `concurrency`, so a loop that
    leaves early has spent little and a long walk keeps `concurrency` requests in flight. Items come
    in page order; memory holds at most about `concurrency` pages, as bytes. An id is not
    yielded twice in one walk (unless over 10,000 items are inserted ahead of it meanwhile,
    see RecentIds); if items are deleted while the walk runs, items may shift onto pages
    already read and be missed (as with any offset-paged API).
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
        start_page: int = 1,
        prefetch_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._transport = transport
        self._path = path
        self._params = params
        self._key = key
        self._item_type = item_type
        self._per_page = per_page
        self._concurrency = concurrency
        self._start_page = start_page
        self._prefetch_bytes = prefetch_bytes
        self._read_with: ReadWith[T] | None = None  # see rebound()

    def __repr__(self) -> str:
        return f"<Paginator {'/'.join(map(str, self._path))} {self._params}>"

    @property
    def transport(self) -> Transport:
        """The transport the listing's requests go through."""
        return self._transport

    def rebound(
        self,
        transport: Transport,
        *,
        start_page: int,
        read_with: ReadWith[T] | None = None,
    ) -> Paginator[T]:
        """This listing (already checked) through `transport` from `start_page`; `crawl` walks
        each account this way. `read_with` is given each answer's read (decode, de-duplicate,
        judge) and returns its outcome: `crawl` has its consumer read a page when it gets to it.
        """
        # A copy, at a tenth of copy.copy's cost (crawl makes one per account).
        rebound: Paginator[T] = object.__new__(type(self))
        rebound.__dict__.update(self.__dict__)
        rebound._transport = transport
        rebound._start_page = start_page
        rebound._read_with = read_with
        return rebound

    async def __aiter__(self) -> AsyncGenerator[T, None]:
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.items:
                    yield item

    async def pages(self) -> AsyncGenerator[Page[T], None]:
        """Every page in order, each holding only items not seen earlier in this walk."""
        reader = PageReader(
            key=self._key,
            item_type=self._item_type,
            per_page=self._per_page,
            remember=max(REMEMBERED_IDS, self._per_page * (self._concurrency + 2)),
        )
        in_flight: dict[int, asyncio.Task[Response]] = {}
        number = self._start_page
        window = 1
        last_page: int | None = None
        largest = 0  # the largest page body seen: what a page still in flight may bring
        try:
            while True:
                # Keep `window` pages in flight from the one needed now, never past the last
                # page the total implies (without a total, only the page needed), and never
                # more bytes held ahead than the budget allows; the page needed always goes.
                reach = number + window - 1 if last_page is not None else number
                farthest: int = max(number, min(reach, last_page or number))
                if farthest == number and not in_flight:
                    # Only the page needed now (the first, or a walk's last): no task for it.
                    response = await self._fetch(number)
                else:
                    held = sum(_held(task, largest) for task in in_flight.values())
                    for ahead in range(number, farthest + 1):
                        if ahead in in_flight:
                            continue
                        if ahead > number and held + largest > self._prefetch_bytes:
                            break
                        in_flight[ahead] = asyncio.ensure_future(self._fetch(ahead))
                        held += largest
                    response = await in_flight.pop(number)
                largest = max(largest, len(response.body))
                status = response.status
                if self._read_with is None:
                    page, facts = reader.read(number, response)
                else:
                    read = functools.partial(reader.read, number, response)
                    page, facts = await self._read_with(read)
                    del read
                # Nothing of a page is kept here once read: the caller decides how long it lives.
                del response
                last_page = facts.last_page
                # Slow start: 1 page, then 3 (a loop that leaves during page 2 has sent at
                # most 2 beyond it), then 4 times as many per page up to `concurrency`.
                window = min(self._concurrency, 3 if window == 1 else 4 * window)
                yield page
                del page
                if facts.problem is not None:
                    # After the page's items: a caller that wanted only them has them; a walk
                    # that would end here is not passed off as complete.
                    raise ResponseDecodeError(facts.problem, status=status)
                if not facts.has_next:
                    return
                number += 1
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)

    def _fetch(self, number: int) -> Coroutine[object, object, Response]:
        params = {**self._params, "page": number, "per_page": self._per_page}
        return self._transport.request("GET", *self._path, params=params)
