"""``actions`` and ``transfers`` against an emulator."""

from __future__ import annotations

import json

from do_images.testing import Emulator

from .conftest import Cli
from .helpers import TOKEN, action, arun, one_error_line


def _private(emu: Emulator, kind: str = "snapshot") -> str:
    return str(emu.add_image(kind=kind, regions=["nyc3"]).id)


async def test_transfer_wait_list_and_get(emu: Emulator, cli: Cli) -> None:
    image_id = _private(emu)
    result = await cli(
        "-o", "json", "actions", "transfer", image_id, "--region", "ams3",
        "--wait", "--poll-interval", "0.05",
    )  # fmt: skip
    assert result.code == 0, result.err
    done = action(json.loads(result.out))
    assert (done.type, done.status) == ("transfer", "completed")
    transferred = emu.image(int(image_id))
    assert transferred is not None
    assert "ams3" in transferred.regions
    listed = await cli("actions", "list", image_id)
    assert listed.code == 0
    header, row = listed.out.splitlines()
    assert header.split() == ["ID", "TYPE", "STATUS", "STARTED", "COMPLETED", "REGION"]
    assert row.startswith(str(done.id))
    assert "transfer" in row
    got = await cli("actions", "get", image_id, str(done.id), "-o", "jsonl")
    assert action(json.loads(got.out)) == done


async def test_convert_without_wait_then_actions_wait(emu: Emulator, cli: Cli) -> None:
    image_id = _private(emu, "backup")
    started = await cli("-o", "json", "actions", "convert", image_id)
    assert started.code == 0, started.err
    first = action(json.loads(started.out))
    assert first.type == "convert"
    waited = await cli("actions", "wait", image_id, str(first.id), "--poll-interval", "0.05")
    assert waited.code == 0, waited.err
    assert "completed" in waited.out


async def test_errored_action_exits_5(emu: Emulator, cli: Cli) -> None:
    image_id = _private(emu)
    emu.fail_next_action()
    result = await cli(
        "actions", "transfer", image_id, "--region", "ams3", "--wait", "--poll-interval", "0.05"
    )
    assert result.code == 5
    assert "errored" in one_error_line(result, notes=1)


async def test_action_wait_timeout_exits_4() -> None:
    async with Emulator(steps=1000) as emu:
        image_id = str(emu.add_image(kind="snapshot").id)
        base = ("--base-url", str(emu.url), "--token", TOKEN, "-o", "json")
        started = await arun(*base, "actions", "transfer", image_id, "--region", "ams3")
        action_id = str(json.loads(started.out)["id"])
        result = await arun(
            *base, "actions", "wait", image_id, action_id, "--wait-timeout", "0.3",
            "--poll-interval", "0.1",
        )  # fmt: skip
    assert result.code == 4
    one_error_line(result)


async def test_account_transfer_create_and_cancel(emu: Emulator, cli: Cli) -> None:
    image_id = _private(emu)
    created = await cli("-o", "json", "transfers", "create", image_id, "--email", "bob@example.com")
    assert created.code == 0, created.err
    transfer_id = json.loads(created.out)["transfer_id"]
    assert transfer_id > 0
    cancelled = await cli("transfers", "cancel", image_id, "--transfer-id", str(transfer_id))
    assert cancelled.code == 0, cancelled.err
    assert cancelled.out.split() == [
        "IMAGE_ID", "TRANSFER_ID", "RESULT", image_id, str(transfer_id), "cancelled"
    ]  # fmt: skip
    again = await cli("transfers", "decline", image_id, "--transfer-id", str(transfer_id))
    assert again.code == 3
    one_error_line(again)


async def test_account_transfer_to_team_is_immediate(emu: Emulator, cli: Cli) -> None:
    image_id = _private(emu)
    team = emu.account_uuid("bob")
    result = await cli("transfers", "create", image_id, "--team-uuid", team)
    assert result.code == 0, result.err
    assert result.out.split()[3:] == [image_id, "0", "accepted"]
    assert emu.owner(int(image_id)) == "bob"


async def test_account_transfer_accept_as_the_recipient() -> None:
    async with Emulator(tokens={TOKEN: "default", "bob-token": "bob"}) as emu:
        image_id = _private(emu)
        offered = await arun(
            "--base-url", str(emu.url), "--token", TOKEN, "-o", "json",
            "transfers", "create", image_id, "--email", emu.account_email("bob"),
        )  # fmt: skip
        assert offered.code == 0, offered.err
        transfer_id = str(json.loads(offered.out)["transfer_id"])
        accepted = await arun(
            "--base-url", str(emu.url), "--token", "bob-token",
            "transfers", "accept", image_id, "--transfer-id", transfer_id,
            "--team-uuid", emu.account_uuid("bob"),
        )  # fmt: skip
        assert accepted.code == 0, accepted.err
        assert accepted.out.split()[3:] == [image_id, transfer_id, "accepted"]
        assert emu.owner(int(image_id)) == "bob"
