"""Image actions: transfer adds a region, convert makes a backup a snapshot, errored, list."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from emu_helpers import Api, assert_error
from yarl import URL

from do_images.testing import Emulator

ACTION_KEYS = {
    "id", "status", "type", "started_at", "completed_at", "resource_id", "resource_type",
    "region", "region_slug",
}  # fmt: skip


async def test_transfer_adds_region_when_completed(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot", regions=["nyc3"]).id
    created = await empty_api(
        "POST", f"/v2/images/{image_id}/actions", json={"type": "transfer", "region": "ams3"}
    )
    assert created.status == 201
    action = created.json["action"]
    assert set(action) == ACTION_KEYS
    assert (action["status"], action["type"], action["completed_at"]) == (
        "in-progress",
        "transfer",
        None,
    )
    assert (action["resource_id"], action["resource_type"]) == (image_id, "image")
    assert action["region_slug"] == "ams3"
    assert action["region"]["slug"] == "ams3"
    assert {"name", "slug", "sizes", "features", "available"} <= set(action["region"])
    assert empty.image_json(image_id)["regions"] == ["nyc3"]  # type: ignore[index]
    done = (await empty_api("GET", f"/v2/images/{image_id}/actions/{action['id']}")).json["action"]
    assert done["status"] == "completed"
    assert done["completed_at"]
    assert empty.image_json(image_id)["regions"] == ["nyc3", "ams3"]  # type: ignore[index]


async def test_action_takes_steps_gets(session: aiohttp.ClientSession) -> None:
    async with Emulator(seed=False, steps=2) as emu:
        api = Api(session, emu)
        image_id = emu.add_image(kind="backup").id
        action = (
            await api("POST", f"/v2/images/{image_id}/actions", json={"type": "convert"})
        ).json
        path = f"/v2/images/{image_id}/actions/{action['action']['id']}"
        first = (await api("GET", path)).json["action"]["status"]
        second = (await api("GET", path)).json["action"]["status"]
        assert (first, second) == ("in-progress", "completed")


async def test_convert_backup_to_snapshot(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="backup", regions=["fra1"]).id
    action = (
        await empty_api("POST", f"/v2/images/{image_id}/actions", json={"type": "convert"})
    ).json
    assert action["action"]["region_slug"] == "fra1"
    assert empty.image_json(image_id)["type"] == "backup"  # type: ignore[index]
    await empty_api("GET", f"/v2/images/{image_id}/actions/{action['action']['id']}")
    assert empty.image_json(image_id)["type"] == "snapshot"  # type: ignore[index]


async def test_scripted_action_error(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot", regions=["nyc3"]).id
    empty.fail_next_action("disk on fire")
    action = (
        await empty_api(
            "POST", f"/v2/images/{image_id}/actions", json={"type": "transfer", "region": "lon1"}
        )
    ).json["action"]
    assert action["status"] == "in-progress"
    done = (await empty_api("GET", f"/v2/images/{image_id}/actions/{action['id']}")).json["action"]
    assert done["status"] == "errored"
    assert empty.image_json(image_id)["regions"] == ["nyc3"]  # type: ignore[index]
    # only the next action is affected
    again = (
        await empty_api(
            "POST", f"/v2/images/{image_id}/actions", json={"type": "transfer", "region": "lon1"}
        )
    ).json["action"]
    done = (await empty_api("GET", f"/v2/images/{image_id}/actions/{again['id']}")).json["action"]
    assert done["status"] == "completed"


async def test_list_actions_paginated(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot").id
    ids = []
    for region in ("ams3", "lon1", "fra1"):
        answer = await empty_api(
            "POST", f"/v2/images/{image_id}/actions", json={"type": "transfer", "region": region}
        )
        ids.append(answer.json["action"]["id"])
    page1 = (
        await empty_api("GET", f"/v2/images/{image_id}/actions", params={"per_page": "2"})
    ).json
    assert [a["id"] for a in page1["actions"]] == ids[:2]
    assert page1["meta"]["total"] == 3
    nxt = URL(page1["links"]["pages"]["next"])
    assert nxt.path == f"/v2/images/{image_id}/actions"
    page2 = (await empty_api("GET", nxt.path, params=dict(nxt.query))).json
    assert [a["id"] for a in page2["actions"]] == ids[2:]
    assert set(page2["links"]["pages"]) == {"first", "prev"}
    other = empty.add_image(kind="snapshot").id
    none = (await empty_api("GET", f"/v2/images/{other}/actions")).json
    assert none == {"actions": [], "links": {}, "meta": {"total": 0}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "explode"}, "type"),
        ({}, "type"),
        ({"type": "transfer"}, "region"),
        ({"type": "transfer", "region": "moon1"}, "region"),
        ({"type": 7}, "type"),
    ],
)
async def test_bad_action_bodies_are_422(
    empty: Emulator, empty_api: Api, body: dict[str, object], field: str
) -> None:
    image_id = empty.add_image(kind="snapshot").id
    answer = await empty_api("POST", f"/v2/images/{image_id}/actions", json=body)
    assert field in assert_error(answer, 422, "unprocessable_entity")["message"]
    assert (await empty_api("GET", f"/v2/images/{image_id}/actions")).json["meta"]["total"] == 0


async def test_convert_of_non_backup_is_422(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot").id
    answer = await empty_api("POST", f"/v2/images/{image_id}/actions", json={"type": "convert"})
    assert_error(answer, 422, "unprocessable_entity")


async def test_action_not_found_cases(empty: Emulator, empty_api: Api) -> None:
    public = empty.add_image().id
    mine = empty.add_image(kind="snapshot").id
    other = empty.add_image(kind="snapshot").id
    transfer = {"type": "transfer", "region": "nyc1"}
    assert_error(
        await empty_api("POST", f"/v2/images/{public}/actions", json=transfer), 404, "not_found"
    )
    assert_error(await empty_api("POST", "/v2/images/5/actions", json=transfer), 404, "not_found")
    assert_error(await empty_api("GET", "/v2/images/5/actions"), 404, "not_found")
    action_id = (await empty_api("POST", f"/v2/images/{mine}/actions", json=transfer)).json[
        "action"
    ]["id"]
    assert_error(
        await empty_api("GET", f"/v2/images/{other}/actions/{action_id}"), 404, "not_found"
    )
    assert_error(await empty_api("GET", f"/v2/images/{mine}/actions/1"), 404, "not_found")
    assert_error(await empty_api("GET", f"/v2/images/{mine}/actions/abc"), 404, "not_found")
    # public images' action lists are readable (and empty)
    assert (await empty_api("GET", f"/v2/images/{public}/actions")).status == 200


# -- /v2/actions: the real API's Actions endpoints, for the actions the emulator created --------

SPEC = Path(__file__).resolve().parents[3] / "shared/openapi/images.yaml"


def _action_schema() -> dict[str, object]:
    import yaml

    if not SPEC.is_file():
        pytest.skip(f"OpenAPI spec not found at {SPEC}: cannot check the action's shape")
    schema: dict[str, object] = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    return schema


async def test_actions_by_id_serve_and_advance(session: aiohttp.ClientSession) -> None:
    tokens = {"alice-token": "alice", "bob-token": "bob"}
    async with Emulator(seed=False, steps=2, tokens=tokens) as emu:
        api = Api(session, emu)
        image_id = emu.add_image(kind="snapshot", account="alice").id
        started = await api(
            "POST", f"/v2/images/{image_id}/actions", token="alice-token",
            json={"type": "transfer", "region": "ams3"},
        )  # fmt: skip
        action_id = started.json["action"]["id"]
        first = await api("GET", f"/v2/actions/{action_id}", token="alice-token")
        assert first.status == 200
        assert set(first.json) == {"action"}
        assert first.json["action"]["status"] == "in-progress"
        second = await api("GET", f"/v2/actions/{action_id}/", token="alice-token")
        assert second.json["action"]["status"] == "completed"  # polling advances it
        assert second.json["action"]["id"] == action_id
        assert emu.image_json(image_id)["regions"] == ["nyc3", "ams3"]  # type: ignore[index]
        image_scoped = await api(
            "GET", f"/v2/images/{image_id}/actions/{action_id}", token="alice-token"
        )
        assert image_scoped.json == second.json
        assert_error(
            await api("GET", f"/v2/actions/{action_id}", token="bob-token"), 404, "not_found"
        )
        assert_error(await api("GET", "/v2/actions/999", token="alice-token"), 404, "not_found")
        assert_error(await api("GET", "/v2/actions/abc", token="alice-token"), 404, "not_found")
        assert_error(await api("GET", f"/v2/actions/{action_id}", token=None), 401, "unauthorized")


async def test_actions_list_pages_the_callers_actions(session: aiohttp.ClientSession) -> None:
    tokens = {"alice-token": "alice", "bob-token": "bob"}
    async with Emulator(seed=False, tokens=tokens) as emu:
        api = Api(session, emu)
        snaps = [emu.add_image(kind="snapshot", account="alice").id for _ in range(3)]
        ids = []
        for image_id in snaps:
            answer = await api(
                "POST", f"/v2/images/{image_id}/actions", token="alice-token",
                json={"type": "transfer", "region": "sgp1"},
            )  # fmt: skip
            ids.append(answer.json["action"]["id"])
        page = await api("GET", "/v2/actions", token="alice-token", params={"per_page": "2"})
        assert page.status == 200
        assert page.json["meta"] == {"total": 3}
        assert [a["id"] for a in page.json["actions"]] == ids[:2]
        assert "page=2" in page.json["links"]["pages"]["next"]
        last = await api(
            "GET", "/v2/actions", token="alice-token", params={"per_page": "2", "page": "2"}
        )
        assert [a["id"] for a in last.json["actions"]] == ids[2:]
        assert [a["resource_id"] for a in last.json["actions"]] == snaps[2:]
        bobs = await api("GET", "/v2/actions", token="bob-token")
        assert (bobs.json["actions"], bobs.json["meta"]) == ([], {"total": 0})
        bad = await api("GET", "/v2/actions", token="alice-token", params={"page": "0"})
        assert_error(bad, 400, "bad_request")


async def test_actions_endpoint_bodies_have_the_spec_action_shape(emu: Emulator, api: Api) -> None:
    from openapi_schema_validator import OAS30Validator

    schemas = _action_schema()
    image_id = emu.add_image(kind="snapshot").id
    started = await api(
        "POST", f"/v2/images/{image_id}/actions", json={"type": "transfer", "region": "ams3"}
    )
    action_id = started.json["action"]["id"]
    got = (await api("GET", f"/v2/actions/{action_id}")).json["action"]
    listed = (await api("GET", "/v2/actions")).json["actions"]
    resolver = {"components": {"schemas": schemas}}
    validator = OAS30Validator({**schemas["action"], **resolver})  # type: ignore[dict-item]
    for action in (got, *listed):
        assert not list(validator.iter_errors(action))
    assert {a["id"] for a in listed} == {action_id}
