"""client.images over real HTTP against the emulator: requests sent and objects returned."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import do_images
from do_images.testing import Emulator

from .support.fakes import FakeTime


def _as_image(stored: dict[str, object]) -> do_images.Image:
    """What the SDK must return for a stored image, built field by field from its JSON."""
    created = stored["created_at"]
    assert isinstance(created, str)
    return do_images.Image(
        id=stored["id"],  # type: ignore[arg-type]
        name=stored["name"],  # type: ignore[arg-type]
        type=stored["type"],  # type: ignore[arg-type]
        distribution=stored["distribution"],  # type: ignore[arg-type]
        slug=stored["slug"],  # type: ignore[arg-type]
        public=stored["public"],  # type: ignore[arg-type]
        regions=tuple(stored["regions"]),  # type: ignore[arg-type]
        created_at=datetime.fromisoformat(created.replace("Z", "+00:00")),
        min_disk_size=stored["min_disk_size"],  # type: ignore[arg-type]
        size_gigabytes=stored["size_gigabytes"],  # type: ignore[arg-type]
        description=stored["description"],  # type: ignore[arg-type]
        tags=tuple(stored["tags"]),  # type: ignore[arg-type]
        status=stored["status"],  # type: ignore[arg-type]
        error_message=stored["error_message"],  # type: ignore[arg-type]
    )


async def test_get_by_id_returns_every_field(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(
        kind="distribution",
        name="24.04 (LTS) x64",
        slug="ubuntu-24-04-x64",
        distribution="Ubuntu",
        regions=["nyc3", "ams3"],
        created_at="2024-04-25T10:00:00Z",
        min_disk_size=15,
        size_gigabytes=2.51,
        description="Ubuntu 24.04 x64",
        tags=["lts"],
    )
    image = await client.images.get(stored.id)
    assert image == _as_image(emulator.image_json(stored.id) or {})
    assert image.created_at == datetime(2024, 4, 25, 10, tzinfo=timezone.utc)
    assert image.regions == ("nyc3", "ams3")
    request = emulator.requests[-1]
    assert (request.method, request.path, request.query) == (
        "GET",
        f"/v2/images/{stored.id}",
        {},
    )


async def test_get_by_slug(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(kind="application", slug="docker-20-04", name="Docker")
    image = await client.images.get("docker-20-04")
    assert image == _as_image(emulator.image_json(stored.id) or {})
    assert emulator.requests[-1].path == "/v2/images/docker-20-04"


async def test_create_sends_the_spec_body_and_returns_the_new_image(
    emulator: Emulator, client: do_images.Client
) -> None:
    image = await client.images.create(
        name="ubuntu-18.04-minimal",
        url="http://cloud-images.ubuntu.com/minimal/ubuntu-18.04-minimal-cloudimg-amd64.img",
        region="nyc3",
        distribution="Ubuntu",
        description="Cloud-optimized image w/ small footprint",
        tags=["base-image", "prod"],
    )
    request = emulator.requests[-1]
    assert (request.method, request.path, request.status) == ("POST", "/v2/images", 202)
    assert request.json == {
        "name": "ubuntu-18.04-minimal",
        "url": "http://cloud-images.ubuntu.com/minimal/ubuntu-18.04-minimal-cloudimg-amd64.img",
        "region": "nyc3",
        "distribution": "Ubuntu",
        "description": "Cloud-optimized image w/ small footprint",
        "tags": ["base-image", "prod"],
    }
    assert image.id is not None
    assert image.name == "ubuntu-18.04-minimal"
    assert image.type == "custom"
    assert image.status == "NEW"
    assert image.distribution == "Ubuntu"
    assert image.description == "Cloud-optimized image w/ small footprint"
    assert image.tags == ("base-image", "prod")
    stored = emulator.image(image.id)
    assert stored is not None
    assert stored.name == "ubuntu-18.04-minimal"


async def test_create_leaves_out_optional_fields(
    emulator: Emulator, client: do_images.Client
) -> None:
    await client.images.create(name="min", url="https://example.com/a.qcow2", region="sfo3")
    assert emulator.requests[-1].json == {
        "name": "min",
        "url": "https://example.com/a.qcow2",
        "region": "sfo3",
    }


async def test_update_sends_only_given_fields(emulator: Emulator, client: do_images.Client) -> None:
    stored = emulator.add_image(kind="custom", name="old", distribution="Debian")
    image = await client.images.update(stored.id, name="new-name", description="fresh")
    request = emulator.requests[-1]
    assert (request.method, request.path) == ("PUT", f"/v2/images/{stored.id}")
    assert request.json == {"name": "new-name", "description": "fresh"}
    assert (image.id, image.name, image.description, image.distribution) == (
        stored.id,
        "new-name",
        "fresh",
        "Debian",
    )


async def test_delete_returns_none_and_removes(
    emulator: Emulator, client: do_images.Client
) -> None:
    stored = emulator.add_image(kind="snapshot", name="to-go")
    assert await client.images.delete(stored.id) is None
    request = emulator.requests[-1]
    assert (request.method, request.path, request.status) == (
        "DELETE",
        f"/v2/images/{stored.id}",
        204,
    )
    assert emulator.image(stored.id) is None
    with pytest.raises(do_images.NotFoundError):
        await client.images.get(stored.id)


async def test_wait_returns_the_available_image(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    created = await client.images.create(
        name="imported", url="https://example.com/disk.img", region="nyc3"
    )
    assert created.id is not None
    image = await client.images.wait(created.id, timeout=600, poll_interval=2)
    assert image.status == "available"
    assert image.id == created.id
    polls = [r for r in emulator.requests if r.method == "GET"]
    assert all(r.path == f"/v2/images/{created.id}" for r in polls)
    # One sleep between consecutive polls, growing politely from poll_interval.
    assert fake_time.sleeps == [2.0 * 1.5**i for i in range(len(polls) - 1)]


async def test_wait_takes_the_image_itself(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    created = await client.images.create(
        name="imported", url="https://example.com/disk.img", region="nyc3"
    )
    image = await client.images.wait(created, timeout=600, poll_interval=2)
    assert (image.id, image.status) == (created.id, "available")
    assert {r.path for r in emulator.requests if r.method == "GET"} == {f"/v2/images/{created.id}"}


async def test_wait_raises_image_failed_with_the_image(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    created = await client.images.create(
        name="broken", url="https://example.com/fail.img", region="nyc3"
    )
    assert created.id is not None
    with pytest.raises(do_images.ImageFailedError) as caught:
        await client.images.wait(created.id, timeout=600)
    assert caught.value.image.status == "deleted"
    assert caught.value.image.error_message
    assert caught.value.image.error_message in str(caught.value)


async def test_wait_times_out_with_the_last_image(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    stored = emulator.add_image(kind="custom", name="slow", status="NEW")
    emulator.set_image(stored.id, status="pending")
    start = fake_time.now

    class NeverFinishes(FakeTime):
        async def sleep(self, seconds: float) -> None:
            emulator.set_image(stored.id, status="pending")
            await fake_time.sleep(seconds)

        def monotonic(self) -> float:
            return fake_time.now

    async with do_images.Client(
        "t", base_url=emulator.url, rate_limits=(), clock=NeverFinishes()
    ) as slow_client:
        with pytest.raises(do_images.WaitTimeoutError) as caught:
            await slow_client.images.wait(stored.id, timeout=30, poll_interval=5)
    assert isinstance(caught.value.last, do_images.Image)
    assert caught.value.last.status == "pending"
    assert not isinstance(caught.value, do_images.ActionTimeoutError)
    # Polls at 0, 5, 12.5, 23.75 and once more at the deadline (30), then gives up.
    assert fake_time.sleeps == [5.0, 7.5, 11.25, 6.25]
    assert fake_time.now - start == 30
