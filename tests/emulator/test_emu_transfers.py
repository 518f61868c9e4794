"""Account transfers: by email (pending: accept / decline / cancel) and by team uuid (immediate)."""

from __future__ import annotations

import aiohttp
import pytest
from emu_helpers import Api, assert_error

from do_images.testing import Emulator

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


@pytest.fixture
async def two() -> object:
    async with Emulator(seed=False, tokens=TOKENS) as emu:
        yield emu


async def _visible(api: Api, token: str, image_id: int) -> bool:
    return (await api("GET", f"/v2/images/{image_id}", token=token)).status == 200


async def _offer_to_bob(api: Api, image_id: int) -> int:
    """Alice offers her snapshot to bob by email; the pending transfer's id."""
    answer = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer",
        token="alice-token",
        json={"recipient_email": "bob@example.com"},
    )
    assert answer.status == 201
    transfer_id: int = answer.json["transfer_id"]
    return transfer_id


async def test_transfer_by_email_then_accept(session: aiohttp.ClientSession, two: Emulator) -> None:
    api = Api(session, two)
    image_id = two.add_image(kind="snapshot", account="alice").id
    answer = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer",
        token="alice-token",
        json={"recipient_email": two.account_email("bob")},
    )
    assert answer.status == 201
    transfer_id = answer.json["transfer_id"]
    assert transfer_id > 0
    assert two.owner(image_id) == "alice"
    assert not await _visible(api, "bob-token", image_id)
    wrong = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer/accept",
        token="bob-token",
        json={"transfer_id": transfer_id, "recipient_uuid": two.account_uuid("alice")},
    )
    assert_error(wrong, 422, "unprocessable_entity")
    accepted = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer/accept",
        token="bob-token",
        json={"transfer_id": transfer_id, "recipient_uuid": two.account_uuid("bob")},
    )
    assert accepted.status == 201
    assert accepted.body == b""
    assert two.owner(image_id) == "bob"
    assert await _visible(api, "bob-token", image_id)
    assert not await _visible(api, "alice-token", image_id)
    again = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer/accept",
        token="bob-token",
        json={"transfer_id": transfer_id, "recipient_uuid": two.account_uuid("bob")},
    )
    assert_error(again, 404, "not_found")


@pytest.mark.parametrize(("verb", "token"), [("decline", "bob-token"), ("cancel", "alice-token")])
async def test_decline_or_cancel_keeps_image(
    session: aiohttp.ClientSession, two: Emulator, verb: str, token: str
) -> None:
    api = Api(session, two)
    image_id = two.add_image(kind="snapshot", account="alice").id
    transfer_id = await _offer_to_bob(api, image_id)
    answer = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer/{verb}",
        token=token,
        json={"transfer_id": transfer_id},
    )
    assert answer.status == 204
    assert answer.body == b""
    assert two.owner(image_id) == "alice"
    accept = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer/accept",
        token="bob-token",
        json={"transfer_id": transfer_id, "recipient_uuid": two.account_uuid("bob")},
    )
    assert_error(accept, 404, "not_found")


async def test_only_sender_cancels(session: aiohttp.ClientSession, two: Emulator) -> None:
    api = Api(session, two)
    image_id = two.add_image(kind="snapshot", account="alice").id
    transfer_id = await _offer_to_bob(api, image_id)
    answer = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer/cancel",
        token="bob-token",
        json={"transfer_id": transfer_id},
    )
    assert_error(answer, 404, "not_found")


async def test_transfer_by_team_uuid_is_immediate(
    session: aiohttp.ClientSession, two: Emulator
) -> None:
    api = Api(session, two)
    image_id = two.add_image(kind="snapshot", account="alice").id
    answer = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer",
        token="alice-token",
        json={"recipient_uuid": two.account_uuid("bob")},
    )
    assert answer.status == 201
    assert answer.json == {"transfer_id": 0}
    assert two.owner(image_id) == "bob"
    listed = (await api("GET", "/v2/images", token="bob-token", params={"private": "true"})).json
    assert [i["id"] for i in listed["images"]] == [image_id]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"recipient_email": "bob@example.com", "recipient_uuid": "x"},
        {"recipient_email": 5},
        {"recipient_uuid": "00000000-0000-0000-0000-000000000000"},
        {"recipient_email": "alice@example.com"},
    ],
)
async def test_bad_transfer_requests(
    session: aiohttp.ClientSession, two: Emulator, body: dict[str, object]
) -> None:
    api = Api(session, two)
    image_id = two.add_image(kind="snapshot", account="alice").id
    answer = await api(
        "POST", f"/v2/images/{image_id}/account_transfer", token="alice-token", json=body
    )
    assert_error(answer, 422, "unprocessable_entity")
    assert two.owner(image_id) == "alice"


@pytest.mark.parametrize("kind", ["backup", "custom"])
async def test_only_snapshots_transfer(
    session: aiohttp.ClientSession, two: Emulator, kind: str
) -> None:
    api = Api(session, two)
    image_id = two.add_image(kind=kind, account="alice").id
    answer = await api(
        "POST",
        f"/v2/images/{image_id}/account_transfer",
        token="alice-token",
        json={"recipient_email": "bob@example.com"},
    )
    assert "snapshot" in assert_error(answer, 422, "unprocessable_entity")["message"]


async def test_transfer_not_found_cases(session: aiohttp.ClientSession, two: Emulator) -> None:
    api = Api(session, two)
    public = two.add_image().id
    bobs = two.add_image(kind="snapshot", account="bob").id
    body = {"recipient_email": "carol@example.com"}
    for image_id in (public, bobs, 42):
        answer = await api(
            "POST", f"/v2/images/{image_id}/account_transfer", token="alice-token", json=body
        )
        assert_error(answer, 404, "not_found")
    for verb in ("cancel", "decline"):
        answer = await api(
            "POST",
            f"/v2/images/{bobs}/account_transfer/{verb}",
            token="bob-token",
            json={"transfer_id": 999},
        )
        assert_error(answer, 404, "not_found")
    bad = await api(
        "POST",
        f"/v2/images/{bobs}/account_transfer/cancel",
        token="bob-token",
        json={"transfer_id": "one"},
    )
    assert_error(bad, 422, "unprocessable_entity")
    unparsable = await api(
        "POST", f"/v2/images/{bobs}/account_transfer/decline", token="bob-token", data=b"{"
    )
    assert_error(unparsable, 400, "bad_request")


async def test_only_the_recipient_settles_and_only_the_sender_cancels(
    session: aiohttp.ClientSession,
) -> None:
    tokens = {**TOKENS, "carol-token": "carol"}
    async with Emulator(seed=False, tokens=tokens) as emu:
        api = Api(session, emu)
        image_id = emu.add_image(kind="snapshot", account="alice").id
        transfer_id = await _offer_to_bob(api, image_id)
        base = f"/v2/images/{image_id}/account_transfer"
        refused = [
            # The sender may not accept (into its own team or the recipient's) nor decline.
            ("accept", "alice-token", emu.account_uuid("alice")),
            ("accept", "alice-token", emu.account_uuid("bob")),
            ("decline", "alice-token", None),
            # The recipient may not cancel; a third account may do nothing.
            ("cancel", "bob-token", None),
            ("accept", "carol-token", emu.account_uuid("carol")),
            ("accept", "carol-token", emu.account_uuid("bob")),
            ("decline", "carol-token", None),
            ("cancel", "carol-token", None),
        ]
        for verb, token, team in refused:
            body: dict[str, object] = {"transfer_id": transfer_id}
            if team is not None:
                body["recipient_uuid"] = team
            answer = await api("POST", f"{base}/{verb}", token=token, json=body)
            assert_error(answer, 404, "not_found")
            assert emu.owner(image_id) == "alice", (verb, token)
        # The offer survived every refusal: the recipient can still accept it.
        accepted = await api(
            "POST", f"{base}/accept", token="bob-token",
            json={"transfer_id": transfer_id, "recipient_uuid": emu.account_uuid("bob")},
        )  # fmt: skip
        assert accepted.status == 201
        assert emu.owner(image_id) == "bob"


async def test_a_transfer_to_an_unknown_email_can_be_settled_by_nobody(
    session: aiohttp.ClientSession, two: Emulator
) -> None:
    api = Api(session, two)
    image_id = two.add_image(kind="snapshot", account="alice").id
    offered = await api(
        "POST", f"/v2/images/{image_id}/account_transfer", token="alice-token",
        json={"recipient_email": "someone@elsewhere.test"},
    )  # fmt: skip
    transfer_id = offered.json["transfer_id"]
    for token, team in (("bob-token", "bob"), ("alice-token", "alice")):
        answer = await api(
            "POST", f"/v2/images/{image_id}/account_transfer/accept", token=token,
            json={"transfer_id": transfer_id, "recipient_uuid": two.account_uuid(team)},
        )  # fmt: skip
        assert_error(answer, 404, "not_found")
    cancelled = await api(
        "POST", f"/v2/images/{image_id}/account_transfer/cancel", token="alice-token",
        json={"transfer_id": transfer_id},
    )  # fmt: skip
    assert cancelled.status == 204
