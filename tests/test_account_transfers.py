"""client.account_transfers over real HTTP against the emulator."""

from __future__ import annotations

import do_images
from do_images.testing import Emulator


async def test_create_by_email_then_cancel(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(kind="snapshot")
    transfer_id = await client.account_transfers.create(
        stored.id, recipient_email="alice@example.com"
    )
    create = emulator.requests[-1]
    assert (create.method, create.path, create.status) == (
        "POST",
        f"/v2/images/{stored.id}/account_transfer",
        201,
    )
    assert create.json == {"recipient_email": "alice@example.com"}
    assert isinstance(transfer_id, int)
    assert transfer_id > 0
    assert await client.account_transfers.cancel(stored.id, transfer_id=transfer_id) is None
    cancel = emulator.requests[-1]
    assert (cancel.path, cancel.json, cancel.status) == (
        f"/v2/images/{stored.id}/account_transfer/cancel",
        {"transfer_id": transfer_id},
        204,
    )


async def test_decline_by_the_recipient() -> None:
    async with Emulator(
        seed=False, rate_limits=(), tokens={"tok-a": "alice", "tok-b": "bob"}
    ) as emu:
        stored = emu.add_image(kind="snapshot", account="alice")
        async with (
            do_images.Client("tok-a", base_url=emu.url, rate_limits=()) as alice,
            do_images.Client("tok-b", base_url=emu.url, rate_limits=()) as bob,
        ):
            transfer_id = await alice.account_transfers.create(
                stored.id, recipient_email="bob@example.com"
            )
            assert await bob.account_transfers.decline(stored.id, transfer_id=transfer_id) is None
            decline = emu.requests[-1]
            assert (decline.method, decline.path, decline.json, decline.status) == (
                "POST",
                f"/v2/images/{stored.id}/account_transfer/decline",
                {"transfer_id": transfer_id},
                204,
            )
            # The image stayed with its sender.
            assert [image.id async for image in alice.images.list(private=True)] == [stored.id]


async def test_accept_moves_the_image() -> None:
    async with Emulator(
        seed=False, rate_limits=(), tokens={"tok-a": "alice", "tok-b": "bob"}
    ) as emu:
        stored = emu.add_image(kind="snapshot", account="alice")
        bob_uuid = emu.account_uuid("bob")
        async with (
            do_images.Client("tok-a", base_url=emu.url, rate_limits=()) as alice,
            do_images.Client("tok-b", base_url=emu.url, rate_limits=()) as bob,
        ):
            transfer_id = await alice.account_transfers.create(
                stored.id, recipient_email="bob@example.com"
            )
            assert transfer_id > 0
            result = await bob.account_transfers.accept(
                stored.id, transfer_id=transfer_id, recipient_uuid=bob_uuid
            )
            assert result is None
            accept = emu.requests[-1]
            assert (accept.path, accept.json, accept.account) == (
                f"/v2/images/{stored.id}/account_transfer/accept",
                {"transfer_id": transfer_id, "recipient_uuid": bob_uuid},
                "bob",
            )
            mine = [image.id async for image in bob.images.list(private=True)]
            assert mine == [stored.id]
            assert [image.id async for image in alice.images.list(private=True)] == []


async def test_create_to_a_team_is_accepted_at_once() -> None:
    async with Emulator(
        seed=False, rate_limits=(), tokens={"tok-a": "alice", "tok-b": "bob"}
    ) as emu:
        stored = emu.add_image(kind="snapshot", account="alice")
        async with do_images.Client("tok-a", base_url=emu.url, rate_limits=()) as alice:
            transfer_id = await alice.account_transfers.create(
                stored.id, recipient_uuid=emu.account_uuid("bob")
            )
        assert transfer_id == 0
        assert emu.requests[-1].json == {"recipient_uuid": emu.account_uuid("bob")}
