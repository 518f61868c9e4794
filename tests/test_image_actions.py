"""client.image_actions over real HTTP against the emulator."""

from __future__ import annotations

import pytest

import do_images
from do_images.testing import Emulator

from .support.fakes import FakeTime


async def test_transfer_posts_type_and_region(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(kind="snapshot", regions=["nyc3"])
    action = await client.image_actions.transfer(stored.id, region="ams3")
    request = emulator.requests[-1]
    assert (request.method, request.path, request.status) == (
        "POST",
        f"/v2/images/{stored.id}/actions",
        201,
    )
    assert request.json == {"type": "transfer", "region": "ams3"}
    assert isinstance(action.id, int)
    assert action.type == "transfer"
    assert action.status == "in-progress"
    assert action.resource_id == stored.id
    assert action.resource_type == "image"
    assert action.started_at is not None
    assert action.started_at.tzinfo is not None
    assert action.completed_at is None
    assert action.region is not None


async def test_convert_posts_type_only(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(kind="backup")
    action = await client.image_actions.convert(stored.id)
    assert emulator.requests[-1].json == {"type": "convert"}
    assert (action.type, action.status, action.resource_id) == (
        "convert",
        "in-progress",
        stored.id,
    )


async def test_get_and_list(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(kind="backup", regions=["nyc3"])
    first = await client.image_actions.transfer(stored.id, region="lon1")
    second = await client.image_actions.convert(stored.id)
    assert first.id is not None
    assert second.id is not None
    got = await client.image_actions.get(stored.id, first.id)
    assert (got.id, got.type, got.resource_id) == (first.id, "transfer", stored.id)
    assert emulator.requests[-1].path == f"/v2/images/{stored.id}/actions/{first.id}"
    listed = [a async for a in client.image_actions.list(stored.id, per_page=1)]
    assert [a.id for a in listed] == [first.id, second.id]
    pages = [r for r in emulator.requests if r.path.endswith("/actions") and r.method == "GET"]
    assert [r.query for r in pages] == [
        {"page": "1", "per_page": "1"},
        {"page": "2", "per_page": "1"},
    ]


async def test_wait_until_completed_and_transfer_adds_region(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    stored = emulator.add_image(kind="snapshot", regions=["nyc3"])
    action = await client.image_actions.transfer(stored.id, region="sgp1")
    done = await client.image_actions.wait(stored.id, action, timeout=60)
    assert done.status == "completed"
    assert done.completed_at is not None
    assert done.id == action.id
    image = await client.images.get(stored.id)
    assert image.regions is not None
    assert "sgp1" in image.regions


async def test_wait_accepts_an_id_and_converted_backup_becomes_snapshot(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    stored = emulator.add_image(kind="backup")
    action = await client.image_actions.convert(stored.id)
    assert action.id is not None
    await client.image_actions.wait(stored.id, action.id)
    assert (await client.images.get(stored.id)).type == "snapshot"


async def test_wait_raises_action_failed(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    stored = emulator.add_image(kind="snapshot")
    emulator.fail_next_action()
    action = await client.image_actions.transfer(stored.id, region="fra1")
    with pytest.raises(do_images.ActionFailedError) as caught:
        await client.image_actions.wait(stored.id, action)
    assert caught.value.action.status == "errored"
    assert caught.value.action.id == action.id


async def test_wait_timeout_is_an_action_timeout(fake_time: FakeTime) -> None:
    async with Emulator(seed=False, rate_limits=(), steps=1000) as slow:
        slow_image = slow.add_image(kind="snapshot")
        async with do_images.Client(
            "t", base_url=slow.url, rate_limits=(), clock=fake_time
        ) as client:
            action = await client.image_actions.transfer(slow_image.id, region="fra1")
            with pytest.raises(do_images.ActionTimeoutError) as caught:
                await client.image_actions.wait(slow_image.id, action, timeout=10, poll_interval=4)
    assert isinstance(caught.value, do_images.WaitTimeoutError)
    assert caught.value.action.status == "in-progress"
    assert caught.value.last is caught.value.action
    # Polls at 0, 4 and 10 (the deadline), then gives up.
    assert fake_time.sleeps == [4.0, 6.0]
