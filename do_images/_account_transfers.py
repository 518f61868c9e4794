"""`client.account_transfers`: paths and bodies of /v2/images/{id}/account_transfer."""

from __future__ import annotations

from collections.abc import Mapping

from . import _validate as check
from ._call import Transport
from ._convert import decode_one
from ._images import IMAGES

TRANSFER = "account_transfer"


class AccountTransfers:
    """Move a snapshot to another DigitalOcean account or team."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create(
        self,
        image_id: int,
        *,
        recipient_email: str | None = None,
        recipient_uuid: str | None = None,
    ) -> int:
        """Offer a snapshot to exactly one recipient; returns the transfer id.

        ``0`` means the transfer was accepted at once (a team the caller may act for).
        """
        ident = check.positive_int("image_id", image_id)
        body = check.one_recipient(recipient_email, recipient_uuid)
        response = await self._transport.request("POST", *IMAGES, ident, TRANSFER, json=body)
        return decode_one(response.body, "transfer_id", int, status=response.status)

    async def accept(self, image_id: int, *, transfer_id: int, recipient_uuid: str) -> None:
        """Accept a transfer into the team `recipient_uuid`."""
        body = {
            "transfer_id": check.positive_int("transfer_id", transfer_id),
            "recipient_uuid": check.text("recipient_uuid", recipient_uuid, required=True),
        }
        await self._post(image_id, "accept", body)

    async def cancel(self, image_id: int, *, transfer_id: int) -> None:
        """Withdraw a transfer you offered."""
        await self._post(
            image_id, "cancel", {"transfer_id": check.positive_int("transfer_id", transfer_id)}
        )

    async def decline(self, image_id: int, *, transfer_id: int) -> None:
        """Refuse a transfer offered to you."""
        await self._post(
            image_id, "decline", {"transfer_id": check.positive_int("transfer_id", transfer_id)}
        )

    async def _post(self, image_id: int, verb: str, body: Mapping[str, object]) -> None:
        ident = check.positive_int("image_id", image_id)
        await self._transport.request("POST", *IMAGES, ident, TRANSFER, verb, json=body)
