"""`client.image_actions`: paths, parameters and envelope keys of /v2/images/{id}/actions."""

from __future__ import annotations

from . import _validate as check
from ._call import Transport
from ._convert import decode_one
from ._errors import ActionFailedError, ActionTimeoutError
from ._images import IMAGES
from ._models import Action
from ._pagination import Paginator
from ._wait import poll


class ImageActions:
    """Actions on an image: transfer to another region, convert a backup to a snapshot."""

    def __init__(self, transport: Transport, *, concurrency: int, prefetch_bytes: int) -> None:
        self._transport = transport
        self._concurrency = concurrency
        self._prefetch_bytes = prefetch_bytes

    def list(
        self,
        image_id: int,
        *,
        per_page: int = 200,
        concurrency: int | None = None,
        start_page: int = 1,
    ) -> Paginator[Action]:
        """Every action run on an image, streamed page by page; `start_page` resumes a walk."""
        ident = check.positive_int("image_id", image_id)
        return Paginator(
            self._transport,
            (*IMAGES, ident, "actions"),
            {},
            key="actions",
            item_type=Action,
            per_page=check.per_page(per_page),
            concurrency=check.optional_positive_int("concurrency", concurrency)
            or self._concurrency,
            start_page=check.positive_int("start_page", start_page),
            prefetch_bytes=self._prefetch_bytes,
        )

    async def get(self, image_id: int, action_id: int) -> Action:
        """One action of an image."""
        ident = check.positive_int("image_id", image_id)
        action = check.positive_int("action_id", action_id)
        response = await self._transport.request("GET", *IMAGES, ident, "actions", action)
        return decode_one(response.body, "action", Action, status=response.status, bare_ok=True)

    async def transfer(self, image_id: int, *, region: str) -> Action:
        """Copy an image to another region; the action completes when the copy is there."""
        return await self._start(image_id, {"type": "transfer", "region": check.region(region)})

    async def convert(self, image_id: int) -> Action:
        """Convert a backup into a snapshot."""
        return await self._start(image_id, {"type": "convert"})

    async def wait(
        self,
        image_id: int,
        action_or_id: Action | int,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
    ) -> Action:
        """Poll an action until ``completed``.

        Raises ActionFailedError on ``errored``, ActionTimeoutError past `timeout` seconds.
        """
        ident = check.positive_int("image_id", image_id)
        action_id = action_or_id.id if isinstance(action_or_id, Action) else action_or_id
        action_id = check.positive_int("action_or_id", action_id)
        timeout = check.non_negative_number("timeout", timeout, allow_inf=True)
        timeout = None if timeout == float("inf") else timeout
        interval = check.positive_number("poll_interval", poll_interval)
        return await poll(
            lambda: self.get(ident, action_id),
            done=lambda action: action.status == "completed",
            failed=lambda action: ActionFailedError(action) if action.status == "errored" else None,
            timed_out=lambda action: ActionTimeoutError(
                f"action {action_id} still {action.status!r} after {timeout}s"
                if action
                else f"action {action_id}: no answer within {timeout}s",
                action,
            ),
            timeout=timeout,
            poll_interval=interval,
            transport=self._transport,
            what=f"wait for action {action_id}",
        )

    async def _start(self, image_id: int, body: dict[str, str]) -> Action:
        ident = check.positive_int("image_id", image_id)
        response = await self._transport.request("POST", *IMAGES, ident, "actions", json=body)
        return decode_one(response.body, "action", Action, status=response.status, bare_ok=True)
