"""One coroutine per subcommand: call the SDK, hand the result to Output."""

from __future__ import annotations

import argparse
from contextlib import aclosing
from typing import Any

import attrs

from do_images import Client, RateLimit

from ._output import ACTION_COLUMNS, IMAGE_COLUMNS, Output
from ._progress import Progress


@attrs.frozen
class Context:
    """What every command gets: the open client, parsed arguments, output and progress."""

    client: Client
    args: argparse.Namespace
    out: Output
    progress: Progress


def _wait_options(args: argparse.Namespace, timeout: float | None) -> dict[str, Any]:
    """The ``timeout``/``poll_interval`` keywords of a wait that were given (else SDK defaults)."""
    options = {"timeout": timeout, "poll_interval": getattr(args, "poll_interval", None)}
    return {key: value for key, value in options.items() if value is not None}


# -- images ------------------------------------------------------------------------------------


async def images_list(ctx: Context) -> None:
    """``images list``."""
    a = ctx.args
    paginator = ctx.client.images.list(
        type=a.type, private=True if a.private else None, tag_name=a.tag, per_page=a.per_page
    )
    await ctx.out.listing(paginator, IMAGE_COLUMNS, "images")


async def images_get(ctx: Context) -> None:
    """``images get``."""
    ident: str = ctx.args.image
    ctx.out.one(await ctx.client.images.get(int(ident) if ident.isdigit() else ident))


async def _wait_image(ctx: Context, image_id: int, timeout: float | None) -> None:
    async with ctx.progress.ticking(f"waiting for image {image_id}"):
        image = await ctx.client.images.wait(image_id, **_wait_options(ctx.args, timeout))
    ctx.out.one(image)


async def images_create(ctx: Context) -> None:
    """``images create``."""
    a = ctx.args
    image = await ctx.client.images.create(
        name=a.name,
        url=a.url,
        region=a.region,
        distribution=a.distribution,
        description=a.description,
        tags=a.tag,
    )
    if a.wait and image.id is not None:
        await _wait_image(ctx, image.id, a.wait_timeout)
    else:
        ctx.out.one(image)


async def images_update(ctx: Context) -> None:
    """``images update``."""
    a = ctx.args
    ctx.out.one(
        await ctx.client.images.update(
            a.image_id, name=a.name, distribution=a.distribution, description=a.description
        )
    )


async def images_delete(ctx: Context) -> None:
    """``images delete``."""
    await ctx.client.images.delete(ctx.args.image_id)
    ctx.out.done(f"deleted image {ctx.args.image_id}")


async def images_wait(ctx: Context) -> None:
    """``images wait``."""
    await _wait_image(ctx, ctx.args.image_id, ctx.args.wait_timeout)


# -- image actions -----------------------------------------------------------------------------


async def actions_list(ctx: Context) -> None:
    """``actions list``."""
    paginator = ctx.client.image_actions.list(ctx.args.image_id, per_page=ctx.args.per_page)
    await ctx.out.listing(paginator, ACTION_COLUMNS, "actions")


async def actions_get(ctx: Context) -> None:
    """``actions get``."""
    ctx.out.one(await ctx.client.image_actions.get(ctx.args.image_id, ctx.args.action_id))


async def _wait_action(ctx: Context, image_id: int, action_id: int, timeout: float | None) -> None:
    async with ctx.progress.ticking(f"waiting for action {action_id} of image {image_id}"):
        action = await ctx.client.image_actions.wait(
            image_id, action_id, **_wait_options(ctx.args, timeout)
        )
    ctx.out.one(action)


async def _started(ctx: Context, image_id: int, action: Any) -> None:
    if ctx.args.wait and action.id is not None:
        await _wait_action(ctx, image_id, action.id, ctx.args.wait_timeout)
    else:
        ctx.out.one(action)


async def actions_transfer(ctx: Context) -> None:
    """``actions transfer``."""
    a = ctx.args
    await _started(
        ctx, a.image_id, await ctx.client.image_actions.transfer(a.image_id, region=a.region)
    )


async def actions_convert(ctx: Context) -> None:
    """``actions convert``."""
    a = ctx.args
    await _started(ctx, a.image_id, await ctx.client.image_actions.convert(a.image_id))


async def actions_wait(ctx: Context) -> None:
    """``actions wait``."""
    a = ctx.args
    await _wait_action(ctx, a.image_id, a.action_id, a.wait_timeout)


# -- account transfers -------------------------------------------------------------------------


async def transfers_create(ctx: Context) -> None:
    """``transfers create``."""
    a = ctx.args
    transfer_id = await ctx.client.account_transfers.create(
        a.image_id, recipient_email=a.email, recipient_uuid=a.team_uuid
    )
    ctx.out.fields({"transfer_id": transfer_id})


async def transfers_accept(ctx: Context) -> None:
    """``transfers accept``."""
    a = ctx.args
    await ctx.client.account_transfers.accept(
        a.image_id, transfer_id=a.transfer_id, recipient_uuid=a.team_uuid
    )
    ctx.out.done(f"accepted transfer {a.transfer_id} of image {a.image_id}")


async def transfers_cancel(ctx: Context) -> None:
    """``transfers cancel``."""
    a = ctx.args
    await ctx.client.account_transfers.cancel(a.image_id, transfer_id=a.transfer_id)
    ctx.out.done(f"cancelled transfer {a.transfer_id} of image {a.image_id}")


async def transfers_decline(ctx: Context) -> None:
    """``transfers decline``."""
    a = ctx.args
    await ctx.client.account_transfers.decline(a.image_id, transfer_id=a.transfer_id)
    ctx.out.done(f"declined transfer {a.transfer_id} of image {a.image_id}")


# -- rate limit --------------------------------------------------------------------------------


async def rate_limit(ctx: Context) -> None:
    """``rate-limit``: one cheap request (first page of one image), then the reported quota."""
    async with aclosing(ctx.client.images.list(per_page=1).pages()) as pages:
        async for _ in pages:
            break
    # An API that sent no ratelimit-* headers shows as empty figures, not as an error.
    ctx.out.one(ctx.client.rate_limit or RateLimit(limit=None, remaining=None, reset_at=None))
