"""Image actions: transfer adds a region, convert makes a backup a snapshot, errored, list."""

from __future__ import annotations

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
    image_id = empty.add_image(kind="snapshot", regions=["nyc3"])["id"]
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
    assert empty.image(image_id)["regions"] == ["nyc3"]  # type: ignore[index]
    done = (await empty_api("GET", f"/v2/images/{image_id}/actions/{action['id']}")).json["action"]
    assert done["status"] == "completed"
    assert done["completed_at"]
    assert empty.image(image_id)["regions"] == ["nyc3", "ams3"]  # type: ignore[index]


async def test_action_takes_steps_gets(session: aiohttp.ClientSession) -> None:
    async with Emulator(seed=False, steps=2) as emu:
        api = Api(session, emu)
        image_id = emu.add_image(kind="backup")["id"]
        action = (
            await api("POST", f"/v2/images/{image_id}/actions", json={"type": "convert"})
        ).json
        path = f"/v2/images/{image_id}/actions/{action['action']['id']}"
        first = (await api("GET", path)).json["action"]["status"]
        second = (await api("GET", path)).json["action"]["status"]
        assert (first, second) == ("in-progress", "completed")


async def test_convert_backup_to_snapshot(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="backup", regions=["fra1"])["id"]
    action = (
        await empty_api("POST", f"/v2/images/{image_id}/actions", json={"type": "convert"})
    ).json
    assert action["action"]["region_slug"] == "fra1"
    assert empty.image(image_id)["type"] == "backup"  # type: ignore[index]
    await empty_api("GET", f"/v2/images/{image_id}/actions/{action['action']['id']}")
    assert empty.image(image_id)["type"] == "snapshot"  # type: ignore[index]


async def test_scripted_action_error(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot", regions=["nyc3"])["id"]
    empty.fail_next_action("disk on fire")
    action = (
        await empty_api(
            "POST", f"/v2/images/{image_id}/actions", json={"type": "transfer", "region": "lon1"}
        )
    ).json["action"]
    assert action["status"] == "in-progress"
    done = (await empty_api("GET", f"/v2/images/{image_id}/actions/{action['id']}")).json["action"]
    assert done["status"] == "errored"
    assert empty.image(image_id)["regions"] == ["nyc3"]  # type: ignore[index]
    # only the next action is affected
    again = (
        await empty_api(
            "POST", f"/v2/images/{image_id}/actions", json={"type": "transfer", "region": "lon1"}
        )
    ).json["action"]
    done = (await empty_api("GET", f"/v2/images/{image_id}/actions/{again['id']}")).json["action"]
    assert done["status"] == "completed"


async def test_list_actions_paginated(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot")["id"]
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
    other = empty.add_image(kind="snapshot")["id"]
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
    image_id = empty.add_image(kind="snapshot")["id"]
    answer = await empty_api("POST", f"/v2/images/{image_id}/actions", json=body)
    assert field in assert_error(answer, 422, "unprocessable_entity")["message"]
    assert (await empty_api("GET", f"/v2/images/{image_id}/actions")).json["meta"]["total"] == 0


async def test_convert_of_non_backup_is_422(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot")["id"]
    answer = await empty_api("POST", f"/v2/images/{image_id}/actions", json={"type": "convert"})
    assert_error(answer, 422, "unprocessable_entity")


async def test_action_not_found_cases(empty: Emulator, empty_api: Api) -> None:
    public = empty.add_image()["id"]
    mine = empty.add_image(kind="snapshot")["id"]
    other = empty.add_image(kind="snapshot")["id"]
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
