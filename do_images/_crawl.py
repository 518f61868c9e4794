"""crawl(): the images of many accounts over one connection pool, with per-account failures and
checkpoints (the `Checkpoints` protocol and MemoryCheckpoints here; RedisCheckpoints in redis.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from types import MappingProxyType, TracebackType
from typing import Any, Protocol, cast, runtime_checkable

import aiohttp
import attrs
import msgspec
from yarl import URL

from . import _validate as check
from ._client import (
    DEFAULT_BASE_URL,
    Client,
    _resolve_token,  # pyright: ignore[reportPrivateUsage]
)
from ._errors import DigitalOceanError, printable
from ._governor import RateLimiter
from ._http import sdk_session
from ._models import Image
from ._pagination import Page, PageFacts, Paginator

logger = logging.getLogger("do_images")

# The connection pool every account shares: aiohttp's default size, which raw aiohttp firing
# every request at once also gets. Each account's walk keeps its prefetch window in flight;
# requests beyond the pool wait for a free connection instead of opening more.
POOL_SIZE = 100


# A msgspec Struct, not an attrs class like the other models: `crawl` builds one per image,
# and a Struct is built in C, five times faster (measured: 0.04 us against 0.23 us). Not
# tracked by the garbage collector: it holds a name and an Image, so it is never in a cycle.
class Crawled(msgspec.Struct, frozen=True, gc=False):
    """One image found by `crawl`, with the name of the account that holds it."""

    account: str
    """The account's name: a key of the `accounts` mapping given to `crawl`."""
    image: Image
    """The image, as `client.images.list()` yields it."""


@attrs.frozen(slots=True)
class CrawlProgress:
    """What a `Checkpoints` store knows of one account: how far its walk got."""

    pages_done: int = 0
    """The last page whose every item the consumer has finished with (0: none)."""
    complete: bool = False
    """Whether the consumer has finished with the account's last page."""


@runtime_checkable
class Checkpoints(Protocol):
    """Where a crawl keeps each account's progress, so that a re-run resumes it.

    `crawl` calls `load` once per account before walking it, then, for each page in order,
    `page_done` once the consumer has finished with the page's last item (it asked for the
    item after it, or the loop ended normally), and `account_done` after the last page.
    Accounts are named by the keys of the `accounts` mapping, never by their tokens.
    One store belongs to one crawl: a re-run must list with the same filters and `per_page`
    (page numbers mean nothing across them).
    """

    async def load(self, account: str) -> CrawlProgress:
        """The account's progress so far (``CrawlProgress()`` if it was never walked)."""
        ...

    async def page_done(self, account: str, page: int) -> None:
        """The consumer has finished with page `page` (and every page before it)."""
        ...

    async def account_done(self, account: str) -> None:
        """The consumer has finished with the account's last page."""
        ...


class MemoryCheckpoints:
    """Checkpoints kept in this process: a crawl re-run with the same object resumes."""

    def __init__(self) -> None:
        self._progress: dict[str, CrawlProgress] = {}

    def __repr__(self) -> str:
        return f"<MemoryCheckpoints accounts={len(self._progress)}>"

    async def load(self, account: str) -> CrawlProgress:
        return self._progress.get(account, CrawlProgress())

    async def page_done(self, account: str, page: int) -> None:
        self._progress[account] = CrawlProgress(page)

    async def account_done(self, account: str) -> None:
        done = self._progress.get(account, CrawlProgress())
        self._progress[account] = CrawlProgress(done.pages_done, complete=True)


@attrs.frozen(slots=True)
class _Turn:
    """One page of one account, as bytes, waiting for the consumer to read it."""

    account: str
    read: Callable[[], tuple[Page[Image], PageFacts]]
    """The walk's read of the page: decode it, drop repeats, tell whether the walk goes on
    (see PageReader.read)."""
    outcome: asyncio.Future[tuple[Page[Image], PageFacts]]
    """The walk waits for the read's outcome: its facts, or why it failed."""


@attrs.frozen(slots=True)
class _Stop:
    """The end of the stream: every walk ended (`error` None), or one failed unexpectedly."""

    error: BaseException | None = None


def _accounts(accounts: object) -> dict[str, str]:
    if not isinstance(accounts, Mapping):
        raise TypeError(
            f"accounts must be a mapping of account name to token, not {type(accounts).__name__}"
        )
    checked: dict[str, str] = {}
    for name, token in cast(Mapping[object, object], accounts).items():
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"accounts: every name must be a non-empty str, got {name!r:.60}")
        if not isinstance(token, str):
            raise TypeError(
                f"accounts[{name!r}]: the token must be a str, not {type(token).__name__}"
            )
        try:
            checked[name] = _resolve_token(token)
        except ValueError as error:  # its message never holds the token
            raise ValueError(f"accounts[{name!r}]: {error}") from None
    if not checked:
        raise ValueError("accounts must name at least one account")
    return checked


def _checkpoints(checkpoints: object) -> Checkpoints | None:
    if checkpoints is None or isinstance(checkpoints, Checkpoints):
        return checkpoints
    raise TypeError(
        "checkpoints must have async load(account), page_done(account, page) and"
        f" account_done(account), not {type(checkpoints).__name__}"
    )


class Crawl:
    """Every image of many accounts: ``async with crawl: async for found in crawl: ...``.

    Made by `do_images.crawl`; see there. Used once.
    """

    def __init__(
        self,
        accounts: dict[str, str],
        *,
        listing: Paginator[Image],
        accounts_in_flight: int,
        session: aiohttp.ClientSession | None,
        checkpoints: Checkpoints | None,
        trust_env: bool,
    ) -> None:
        self._tokens = accounts
        self._accounts_in_flight = accounts_in_flight
        self._session = session
        self._owns_session = session is None
        self._checkpoints = checkpoints
        # Every account's walk is this listing, its transport given the account's token: the
        # options, the listing's arguments and the rate limiter are checked and made once.
        self._listing = listing
        self._trust_env = trust_env
        self._pending = deque(accounts)
        self._failures: dict[str, DigitalOceanError] = {}
        self._completed: set[str] = set()
        # Pages, not items, cross the queue (the per-item cost stays that of the loop itself),
        # as bytes: the consumer decodes each when it gets to it and yields its items at once,
        # so one decoded page is alive, and it is still in the CPU's cache as it is read and
        # freed (measured on 1,000 one-page accounts: decoding in the walks, with other
        # sockets read in between, cost a tenth more CPU, all in cache misses).
        self._queue: asyncio.Queue[_Turn | _Stop] = asyncio.Queue()
        self._stream: AsyncGenerator[Crawled, None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return (
            f"<do_images.Crawl accounts={len(self._tokens)} completed={len(self._completed)}"
            f" failed={len(self._failures)}>"
        )

    @property
    def failures(self) -> Mapping[str, DigitalOceanError]:
        """The accounts whose walk failed (name -> the error); the others went on."""
        return MappingProxyType(self._failures)

    @property
    def completed(self) -> frozenset[str]:
        """The accounts walked to their last page, the consumer finished with it (accounts a
        re-run found complete in its checkpoints included)."""
        return frozenset(self._completed)

    # -- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> Crawl:
        if self._task is not None or self._stopped:
            raise RuntimeError("a Crawl runs once; call do_images.crawl() again")
        if self._session is None:
            self._session = sdk_session(trust_env=self._trust_env, limit=POOL_SIZE)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every walk and request, and close the connection pool (unless it was given)."""
        self._stopped = True
        task, self._task = self._task, None
        stream, self._stream = self._stream, None
        try:
            if task is not None:
                task.cancel()
                await asyncio.wait([task])
                # A loop waiting in another task ends (the walks that fed it are gone).
                self._queue.put_nowait(_Stop())
            if stream is not None:
                with contextlib.suppress(RuntimeError):  # that loop is running: it ends there
                    await stream.aclose()
        finally:
            session, self._session = self._session, None
            if self._owns_session and session is not None:
                await session.close()

    # -- the consumer's side ----------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Crawled]:
        if self._task is None:
            raise RuntimeError(
                "iterate a crawl inside `async with`: async with crawl: async for ..."
            )
        if self._stream is None:
            self._stream = self._items()
        return self._stream

    async def __anext__(self) -> Crawled:
        return await self.__aiter__().__anext__()

    async def _items(self) -> AsyncGenerator[Crawled, None]:
        # One generator serves every loop over the crawl (an async generator costs the least
        # per item); after `yield`, running on means the consumer asked for the next item.
        queue = self._queue
        while True:
            message = await queue.get()
            if isinstance(message, _Stop):
                if message.error is not None:
                    raise message.error
                return
            if message.outcome.done():  # its walk was cancelled: the crawl is stopping
                continue
            try:
                page, facts = message.read()
            except Exception as error:  # the walk reports it (an account's failure, or a bug)
                message.outcome.set_exception(error)
                continue
            # The walk needs only the facts; the items stay here, and go with this page.
            message.outcome.set_result(
                (Page((), page.page, page.per_page, page.total, page.has_next), facts)
            )
            account = message.account
            del message
            for image in page.items:
                yield Crawled(account, image)
            # The consumer came back after the page's last item: it is done with the page.
            number, last = page.page, not facts.has_next and facts.problem is None
            del page
            await self._finished(account, number, last)

    async def _finished(self, account: str, page: int, last: bool) -> None:
        if self._checkpoints is not None:
            await self._checkpoints.page_done(account, page)
            if last:
                await self._checkpoints.account_done(account)
        if last:
            self._completed.add(account)

    # -- the walks --------------------------------------------------------------------------

    async def _run(self) -> None:
        walkers = min(self._accounts_in_flight, len(self._pending))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(walkers):
                    group.create_task(self._walker())
        except BaseExceptionGroup as failed:  # not an account's failure: a bug, a store down
            # The first walk's error; the others that failed at once (the same store down)
            # are not news, and the TaskGroup has stopped the rest.
            await self._queue.put(_Stop(failed.exceptions[0]))
            return
        await self._queue.put(_Stop())

    async def _walker(self) -> None:
        # `_stopped` as well as the cancellation: a checkpoint store may swallow a
        # cancellation (redis-py does), and a walk that went on would wait for a read that no
        # consumer will ever make.
        while self._pending and not self._stopped:
            await self._walk(self._pending.popleft())

    async def _walk(self, name: str) -> None:
        start = 1
        if self._checkpoints is not None:
            progress = await self._checkpoints.load(name)
            if self._stopped:  # the store swallowed the cancellation (see _walker)
                raise asyncio.CancelledError
            if progress.complete:
                self._completed.add(name)
                return
            start = progress.pages_done + 1
        transport = self._listing.transport.for_token(self._tokens[name], self._session)

        async def read_by_consumer(
            read: Callable[[], tuple[Page[Image], PageFacts]],
        ) -> tuple[Page[Image], PageFacts]:
            if self._stopped:
                raise asyncio.CancelledError  # see _walker
            outcome: asyncio.Future[tuple[Page[Image], PageFacts]]
            outcome = asyncio.get_running_loop().create_future()
            self._queue.put_nowait(_Turn(name, read, outcome))
            return await outcome

        try:
            pages = self._listing.rebound(
                transport, start_page=start, read_with=read_by_consumer
            ).pages()
            async with aclosing(pages):
                async for _ in pages:
                    pass  # the consumer has the page's items, and marks the account complete
        except DigitalOceanError as error:
            self._failures[name] = error
            logger.warning(
                "crawl: account %s failed, the others go on: %s: %s",
                printable(name),
                type(error).__name__,
                error,
                extra={"account": name},
            )
        finally:
            await transport.close()


def crawl(
    accounts: Mapping[str, str],
    *,
    type: str | None = None,
    private: bool | None = None,
    tag_name: str | None = None,
    per_page: int = 200,
    accounts_in_flight: int = 16,
    session: aiohttp.ClientSession | None = None,
    rate_limiter: RateLimiter | None = None,
    checkpoints: Checkpoints | None = None,
    base_url: str | URL = DEFAULT_BASE_URL,
    **client_options: object,
) -> Crawl:
    """Walk the images of many accounts (`accounts` maps a name to its token) at once.

    >>> async with do_images.crawl({"acme": token_a, "beta": token_b}) as crawl:
    ...     async for found in crawl:
    ...         print(found.account, found.image.id)

    - Every account shares one connection pool (one aiohttp session, closed at the end; or
      `session`, left open). Every account's requests follow the same `client_options`
      (`timeout`, `max_retries`, ...), checked once; each token keeps its own rate-limit
      windows, in one governor or in `rate_limiter` (such as ``RedisRateLimiter``).
    - At most `accounts_in_flight` accounts are walked at once, each with the usual prefetch.
      One account's images come in page order; accounts interleave as their pages arrive.
      A page is decoded only when the consumer gets to it (one page at a time is decoded;
      the others wait as bytes), so a slow consumer slows the walks.
    - One account's failure (a 401, retries spent, an answer that does not decode, a rate
      limit too far away) ends only that account's walk: it is logged once, recorded in
      `Crawl.failures`, and the crawl goes on. `Crawl.completed` names the accounts done.
    - `checkpoints` (``MemoryCheckpoints()``, ``do_images.redis.RedisCheckpoints``) keep each
      account's progress: a page is done once the consumer has finished with its last item.
      A re-run with the same checkpoints skips completed accounts and resumes the others
      after their last done page: nothing is lost, at most the unfinished pages repeat.
    - Leaving the loop, an exception or a cancellation stops every request and closes every
      connection on the way out of ``async with``.

    Arguments are checked here, before any request; `type`, `private`, `tag_name` and
    `per_page` are those of ``client.images.list()``.
    """
    tokens = _accounts(accounts)
    options: dict[str, Any] = {"base_url": base_url, "rate_limiter": rate_limiter}
    options.update(client_options)
    # A client that never sends anything checks every client option and listing argument now,
    # with the SDK's own messages; it opens no session. Each account's walk is made from it.
    template = Client(next(iter(tokens.values())), session=session, **options)
    listing = template.images.list(
        type=cast(Any, type), private=private, tag_name=tag_name, per_page=per_page
    )  # `type` is checked there, at run time, like every argument
    return Crawl(
        tokens,
        listing=listing,
        accounts_in_flight=check.positive_int("accounts_in_flight", accounts_in_flight),
        session=session,
        checkpoints=_checkpoints(checkpoints),
        trust_env=client_options.get("trust_env") is True,
    )
