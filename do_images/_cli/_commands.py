"""One coroutine per subcommand: call the SDK, hand the results to Output."""

from __future__ import annotations

import argparse
import asyncio
import copy
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

import aiohttp
import attrs

import do_images
from do_images import Action, Client, NotFoundError, Paginator, RateLimit

from ._failures import EXIT_API, Failure, not_found
from ._layouts import Deletion, InContext, Pruned, TransferOutcome
from ._output import Batch, Output
from ._progress import Progress
from ._prune import Prune

T = TypeVar("T")
DELETE_CONCURRENCY = 16  # deletes in flight by default: gentle on the quota


@attrs.frozen
class Context:
    """What every command gets: the open client, parsed arguments, output and progress.

    `resume` collects the commands that pick up where an interrupted one left off.
    """

    client: Client
    args: argparse.Namespace
    out: Output
    progress: Progress
    resume: list[str] = attrs.field(factory=list[str])
    accounts: Mapping[str, str] = attrs.field(factory=dict[str, str], repr=False)
    """Several accounts' tokens (``--all-contexts``, several ``--context``), else empty."""
    session: aiohttp.ClientSession | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict[str, Any])
    """The client options every account's client gets."""


async def _found(what: str, call: Awaitable[T]) -> T:
    """`call`'s result; a 404 says what was not found."""
    try:
        return await call
    except NotFoundError as error:
        raise not_found(what, error) from error


def _wait_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``timeout``/``poll_interval`` keywords of a wait that were given (else SDK defaults)."""
    options = {"timeout": args.wait_timeout, "poll_interval": args.poll_interval}
    return {key: value for key, value in options.items() if value is not None}


async def _pages(paginator: Paginator[Any]) -> AsyncGenerator[Batch, None]:
    async with aclosing(paginator.pages()) as pages:
        async for page in pages:
            yield page.items, page.total


def _resumable(ctx: Context, done: str, command: str) -> None:
    """Say what was just done and how to resume, before a wait an interrupt may cut short."""
    ctx.resume.append(command)
    ctx.progress.note(f"{done}; waiting (if interrupted, resume with: {command})")


# -- images ------------------------------------------------------------------------------------


def _crawl(ctx: Context, *, private: bool | None, type: str | None = None,
           per_page: int = 200) -> do_images.Crawl:  # fmt: skip
    """The listing of every account of `ctx`, through one connection pool."""
    return do_images.crawl(dict(ctx.accounts), type=type, private=private,
                           tag_name=ctx.args.tag, per_page=per_page, session=ctx.session,
                           **ctx.options)  # fmt: skip


def _failed_accounts(crawl: do_images.Crawl, ctx: Context) -> None:
    """Name each account whose walk failed (the others were listed); exit 3 if any did."""
    failures = crawl.failures
    for name, error in failures.items():
        ctx.progress.note(f"do-images: context {name!r} failed: {error}")
    if failures:
        names = ", ".join(repr(n) for n in failures)
        raise Failure(f"{len(failures)} of {len(ctx.accounts)} contexts failed: {names}",
                      EXIT_API)  # fmt: skip


async def _listed(ctx: Context) -> AsyncGenerator[Batch, None]:
    a = ctx.args
    crawl = _crawl(ctx, private=True if a.private else None, type=a.type, per_page=a.per_page)
    async with crawl:
        async for found in crawl:
            yield [InContext(found.account, found.image)], None
    _failed_accounts(crawl, ctx)


async def images_list(ctx: Context) -> None:
    """``images list`` (of several accounts at once with ``--all-contexts``)."""
    a = ctx.args
    if ctx.accounts:
        await ctx.out.stream(_listed(ctx), "listing images")
        return
    paginator = ctx.client.images.list(
        type=a.type, private=True if a.private else None, tag_name=a.tag, per_page=a.per_page
    )
    await ctx.out.stream(_pages(paginator), "listing images")


async def images_get(ctx: Context) -> None:
    """``images get``."""
    ref: str = ctx.args.image
    what = f"image {ref}" if ref.isdigit() else f"image with slug {ref!r}"
    ctx.out.one(await _found(what, ctx.client.images.get(int(ref) if ref.isdigit() else ref)))


async def _wait_image(ctx: Context, image_id: int) -> None:
    async with ctx.progress.ticking(f"waiting for image {image_id}"):
        waited = ctx.client.images.wait(image_id, **_wait_options(ctx.args))
        image = await _found(f"image {image_id}", waited)
    ctx.out.one(image)


async def images_create(ctx: Context) -> None:
    """``images create``: with ``--wait``, the new id goes to stderr before the wait."""
    a = ctx.args
    image = await ctx.client.images.create(
        name=a.name,
        url=a.url,
        region=a.region,
        distribution=a.distribution,
        description=a.description,
        tags=a.tag,
    )
    if a.wait:
        _resumable(ctx, f"created image {image.id}", f"do-images images wait {image.id}")
        await _wait_image(ctx, image.id)
    else:
        ctx.out.one(image)


async def images_update(ctx: Context) -> None:
    """``images update``."""
    a = ctx.args
    updated = ctx.client.images.update(
        a.image_id, name=a.name, distribution=a.distribution, description=a.description
    )
    ctx.out.one(await _found(f"image {a.image_id}", updated))


async def images_wait(ctx: Context) -> None:
    """``images wait``."""
    await _wait_image(ctx, ctx.args.image_id)


async def delete_all(
    client: Client, doomed: Sequence[Deletion], concurrency: int
) -> AsyncGenerator[Batch, None]:
    """Delete every image of `doomed`, `concurrency` at a time (the client's governor keeps
    the rate limits); yields each outcome in the order given, as soon as it is known."""
    gate = asyncio.Semaphore(concurrency)

    async def delete(item: Deletion) -> Deletion:
        async with gate:
            try:
                await client.images.delete(item.id)
            except NotFoundError:
                return attrs.evolve(item, result="failed", error=f"image {item.id} not found")
            except Exception as error:  # one failure must not hide the other outcomes
                return attrs.evolve(item, result="failed", error=str(error))
        return attrs.evolve(item, result="deleted", error=None)

    tasks = [asyncio.create_task(delete(item)) for item in doomed]
    try:
        done = 0
        while done < len(tasks):
            first = await tasks[done]
            batch = [first]  # with the outcomes already known after it: tables size from more
            done += 1
            while done < len(tasks) and tasks[done].done():
                batch.append(tasks[done].result())
                done += 1
            yield batch, len(tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _report_deletions(ctx: Context, doomed: Sequence[Deletion], noun: str) -> int:
    """Delete `doomed`, print each outcome; fails (exit 3) if any deletion failed."""
    failed: list[Deletion] = []

    async def watched() -> AsyncGenerator[Batch, None]:
        deleting = delete_all(ctx.client, doomed, ctx.args.concurrency or DELETE_CONCURRENCY)
        async with aclosing(deleting) as done:
            async for rows, total in done:
                failed.extend(r for r in rows if isinstance(r, Deletion) and r.error)
                yield rows, total

    await ctx.out.stream(watched(), noun)
    if failed:
        first = failed[0].error
        message = f"{len(failed)} of {len(doomed)} images not deleted; first: {first}"
        raise Failure(message, EXIT_API)
    return len(doomed)


async def images_delete(ctx: Context) -> None:
    """``images delete ID [ID …]`` (confirmed beforehand, see `_main.confirm`)."""
    ids = list(dict.fromkeys(ctx.args.image_ids))  # each id once, in the order given
    await _report_deletions(ctx, [Deletion(i, "pending") for i in ids], "deleting images")


async def _prune_accounts(ctx: Context) -> None:
    """``images prune`` of several accounts: one listing through the crawl, each account
    pruned on its own (keeping its N newest); an account whose listing failed is not pruned."""
    prunes = {name: copy.deepcopy(ctx.args.prune) for name in ctx.accounts}
    doomed: dict[str, list[Pruned]] = {name: [] for name in ctx.accounts}
    crawl = _crawl(ctx, private=True)

    async def walk() -> AsyncGenerator[Batch, None]:
        async with crawl:
            async for found in crawl:
                gone = prunes[found.account].offer(found.image)
                if gone is not None:
                    doomed[found.account].append(gone)
                    yield [InContext(found.account, gone)], None

    if not ctx.args.force:
        await ctx.out.stream(walk(), "pruning (dry run)")
    else:
        # Deleting only after the walk: deleting during it would shift items between pages.
        async with aclosing(walk()) as walking:
            async for _ in walking:
                ctx.progress.show("pruning: listing")
        ctx.progress.clear()
        rows: list[object] = []
        for name in sorted(crawl.completed):
            async with Client(ctx.accounts[name], session=ctx.session, **ctx.options) as client:
                async for batch, _ in delete_all(client, doomed[name], DELETE_CONCURRENCY):
                    rows.extend(InContext(name, outcome) for outcome in batch)
        ctx.out.all(rows)
        failed = [r for r in rows if isinstance(r, InContext) and getattr(r.item, "error", None)]
        if failed:
            raise Failure(f"{len(failed)} of {len(rows)} images not deleted", EXIT_API)
    kept = sum(prune.kept for prune in prunes.values())
    count = sum(len(doomed[name]) for name in crawl.completed)
    ctx.progress.note(f"{'deleted' if ctx.args.force else 'dry run: would delete'} {count} "
                      f"image(s), kept {kept}, in {len(crawl.completed)} context(s)")  # fmt: skip
    _failed_accounts(crawl, ctx)


async def images_prune(ctx: Context) -> None:
    """``images prune``: keep the newest matching images, delete (or list) the rest."""
    a = ctx.args
    if ctx.accounts:
        await _prune_accounts(ctx)
        return
    prune: Prune = a.prune  # built and checked by _main before any request
    paginator = ctx.client.images.list(private=True, tag_name=a.tag)
    if not a.force:
        count = await ctx.out.stream(prune.walk(_pages(paginator)), "pruning (dry run)")
        ctx.progress.note(
            f"dry run: {count} image(s) would be deleted, {prune.kept} kept; "
            "pass --force to delete them"
        )
        return
    doomed: list[Deletion] = []
    async with aclosing(prune.walk(_pages(paginator))) as walk:
        async for rows, _ in walk:
            doomed.extend(r for r in rows if isinstance(r, Deletion))
    ctx.progress.clear()
    # Deleting only after the walk: deleting during it would shift items between pages.
    deleted = await _report_deletions(ctx, doomed, "pruning")
    ctx.progress.note(f"deleted {deleted} image(s), kept {prune.kept}")


# -- image actions -----------------------------------------------------------------------------


async def actions_list(ctx: Context) -> None:
    """``actions list``."""
    a = ctx.args
    paginator = ctx.client.image_actions.list(a.image_id, per_page=a.per_page)
    await ctx.out.stream(_found_pages(f"image {a.image_id}", paginator), "listing actions")


async def _found_pages(what: str, paginator: Paginator[Any]) -> AsyncGenerator[Batch, None]:
    try:
        async with aclosing(_pages(paginator)) as pages:
            async for batch in pages:
                yield batch
    except NotFoundError as error:
        raise not_found(what, error) from error


async def actions_get(ctx: Context) -> None:
    """``actions get``."""
    a = ctx.args
    got = ctx.client.image_actions.get(a.image_id, a.action_id)
    ctx.out.one(await _found(f"action {a.action_id} of image {a.image_id}", got))


async def _wait_action(ctx: Context, image_id: int, action_id: int) -> None:
    async with ctx.progress.ticking(f"waiting for action {action_id} of image {image_id}"):
        waited = ctx.client.image_actions.wait(image_id, action_id, **_wait_options(ctx.args))
        action = await _found(f"action {action_id} of image {image_id}", waited)
    ctx.out.one(action)


async def _started(ctx: Context, image_id: int, started: Awaitable[Action]) -> None:
    action = await _found(f"image {image_id}", started)
    if ctx.args.wait:
        command = f"do-images actions wait {image_id} {action.id}"
        _resumable(ctx, f"started {action.type} action {action.id} on image {image_id}", command)
        await _wait_action(ctx, image_id, action.id)
    else:
        ctx.out.one(action)


async def actions_transfer(ctx: Context) -> None:
    """``actions transfer``."""
    a = ctx.args
    await _started(ctx, a.image_id, ctx.client.image_actions.transfer(a.image_id, region=a.region))


async def actions_convert(ctx: Context) -> None:
    """``actions convert``."""
    a = ctx.args
    await _started(ctx, a.image_id, ctx.client.image_actions.convert(a.image_id))


async def actions_wait(ctx: Context) -> None:
    """``actions wait``."""
    await _wait_action(ctx, ctx.args.image_id, ctx.args.action_id)


# -- account transfers -------------------------------------------------------------------------


async def transfers_create(ctx: Context) -> None:
    """``transfers create``."""
    a = ctx.args
    offered = ctx.client.account_transfers.create(
        a.image_id, recipient_email=a.email, recipient_uuid=a.team_uuid
    )
    transfer_id = await _found(f"image {a.image_id}", offered)
    result = "accepted" if transfer_id == 0 else "offered"
    ctx.out.one(TransferOutcome(a.image_id, transfer_id, result))


async def _settle(ctx: Context, result: str, call: Callable[..., Awaitable[None]]) -> None:
    a = ctx.args
    extra = {"recipient_uuid": a.team_uuid} if result == "accepted" else {}
    settled = call(a.image_id, transfer_id=a.transfer_id, **extra)
    await _found(f"transfer {a.transfer_id} of image {a.image_id}", settled)
    ctx.out.one(TransferOutcome(a.image_id, a.transfer_id, result))


async def transfers_accept(ctx: Context) -> None:
    """``transfers accept``."""
    await _settle(ctx, "accepted", ctx.client.account_transfers.accept)


async def transfers_cancel(ctx: Context) -> None:
    """``transfers cancel``."""
    await _settle(ctx, "cancelled", ctx.client.account_transfers.cancel)


async def transfers_decline(ctx: Context) -> None:
    """``transfers decline``."""
    await _settle(ctx, "declined", ctx.client.account_transfers.decline)


# -- rate limit --------------------------------------------------------------------------------


async def rate_limit(ctx: Context) -> None:
    """``rate-limit``: one cheap request (first page of one image), then the reported quota."""
    async with aclosing(ctx.client.images.list(per_page=1).pages()) as pages:
        async for _ in pages:
            break
    # An API that sent no ratelimit-* headers shows as empty figures, not as an error.
    ctx.out.one(ctx.client.rate_limit or RateLimit(limit=None, remaining=None, reset_at=None))
