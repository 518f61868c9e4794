"""Images endpoints: listing, filters, pagination links, get by id/slug, import, update, delete."""

from __future__ import annotations

from datetime import datetime, timezone

import aiohttp
import pytest
from emu_helpers import RATE_HEADERS, Api, assert_error
from yarl import URL

from do_images.testing import Emulator


async def test_seed_catalogue_is_realistic(api: Api) -> None:
    answer = await api("GET", "/v2/images", params={"per_page": "200"})
    assert answer.status == 200
    body = answer.json
    images = body["images"]
    assert body["meta"]["total"] == len(images)
    assert body["links"] == {}
    slugs = {i["slug"] for i in images}
    assert {"ubuntu-24-04-x64", "ubuntu-22-04-x64", "debian-12-x64", "docker-20-04"} <= slugs
    public = [i for i in images if i["public"]]
    private = [i for i in images if not i["public"]]
    assert 25 <= len(public) <= 35
    assert {i["type"] for i in private} == {"snapshot", "backup", "custom"}
    assert [i["id"] for i in images] == sorted(i["id"] for i in images)
    for image in images:
        assert image["status"] == "available"
        assert image["error_message"] == ""
        assert "kind" not in image
    for name in RATE_HEADERS:
        assert answer.headers[name].isdigit()
    assert answer.headers["x-request-id"]


@pytest.mark.parametrize(("kind", "count"), [("distribution", 18), ("application", 10)])
async def test_type_filter_selects_public_kind(api: Api, kind: str, count: int) -> None:
    images = (await api("GET", "/v2/images", params={"type": kind, "per_page": "200"})).json
    assert images["meta"]["total"] == count
    assert all(i["public"] for i in images["images"])
    expected = "base" if kind == "distribution" else "snapshot"
    assert {i["type"] for i in images["images"]} == {expected}


async def test_private_filter_and_tag_filter(api: Api) -> None:
    private = (await api("GET", "/v2/images", params={"private": "true"})).json
    assert private["meta"]["total"] == 5
    assert not any(i["public"] for i in private["images"])
    tagged = (await api("GET", "/v2/images", params={"tag_name": "prod"})).json
    assert [i["name"] for i in tagged["images"]] == ["web-01 2024-11-02"]
    none = (await api("GET", "/v2/images", params={"tag_name": "nope"})).json
    assert none == {"images": [], "links": {}, "meta": {"total": 0}}


async def test_pagination_links_are_absolute_and_keep_filters(
    empty: Emulator, empty_api: Api
) -> None:
    empty.add_images(45)
    base = empty.url
    first = (
        await empty_api("GET", "/v2/images", params={"type": "distribution", "per_page": "20"})
    ).json
    assert first["meta"]["total"] == 45
    assert set(first["links"]["pages"]) == {"next", "last"}
    nxt = URL(first["links"]["pages"]["next"])
    assert (nxt.scheme, nxt.host, nxt.port, nxt.path) == (
        "http",
        base.host,
        base.port,
        "/v2/images",
    )
    assert dict(nxt.query) == {"type": "distribution", "page": "2", "per_page": "20"}
    assert URL(first["links"]["pages"]["last"]).query["page"] == "3"
    middle = (await empty_api("GET", str(nxt.path), params=dict(nxt.query))).json
    assert set(middle["links"]["pages"]) == {"first", "prev", "next", "last"}
    assert URL(middle["links"]["pages"]["prev"]).query["page"] == "1"
    last = (await empty_api("GET", "/v2/images", params={"page": "3", "per_page": "20"})).json
    assert set(last["links"]["pages"]) == {"first", "prev"}
    assert len(last["images"]) == 5
    beyond = (await empty_api("GET", "/v2/images", params={"page": "9", "per_page": "20"})).json
    assert beyond["images"] == []
    assert beyond["meta"]["total"] == 45


async def test_walk_keeps_insertion_order(empty: Emulator, empty_api: Api) -> None:
    added = [i.id for i in empty.add_images(1234)]
    seen: list[int] = []
    page = 1
    while True:
        body = (
            await empty_api("GET", "/v2/images", params={"page": str(page), "per_page": "200"})
        ).json
        seen += [i["id"] for i in body["images"]]
        if "next" not in body["links"].get("pages", {}):
            break
        page += 1
    assert seen == added
    assert page == 7


async def test_mixed_public_and_private_pages_merge_in_id_order(
    empty: Emulator, empty_api: Api
) -> None:
    ids = []
    for n in range(30):
        kind = ("distribution", "snapshot", "application")[n % 3]
        ids.append(empty.add_image(kind=kind).id)
    empty.add_image(kind="snapshot", account="someone-else")
    seen = []
    for page in (1, 2, 3, 4):
        body = (
            await empty_api("GET", "/v2/images", params={"page": str(page), "per_page": "8"})
        ).json
        seen += [i["id"] for i in body["images"]]
        assert body["meta"]["total"] == 30
    assert seen == ids


@pytest.mark.parametrize(
    ("params", "count"), [({"per_page": "500"}, 200), ({}, 20), ({"per_page": "7"}, 7)]
)
async def test_per_page_default_and_clamp(
    empty: Emulator, empty_api: Api, params: dict[str, str], count: int
) -> None:
    empty.add_images(250)
    body = (await empty_api("GET", "/v2/images", params=params)).json
    assert len(body["images"]) == count
    assert URL(body["links"]["pages"]["next"]).query["per_page"] == str(count)


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": "0"},
        {"per_page": "-3"},
        {"per_page": "abc"},
        {"page": "0"},
        {"page": "1.5"},
        {"type": "snapshot"},
        {"private": "maybe"},
    ],
)
async def test_bad_list_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    assert_error(await api("GET", "/v2/images", params=params), 400, "bad_request")


async def test_get_by_id_and_slug(api: Api, emu: Emulator) -> None:
    by_slug = (await api("GET", "/v2/images/ubuntu-24-04-x64")).json["image"]
    assert by_slug["name"] == "24.04 (LTS) x64"
    by_id = await api("GET", f"/v2/images/{by_slug['id']}")
    assert by_id.json == {"image": by_slug}
    assert emu.image_json(by_slug["id"]) == by_slug


@pytest.mark.parametrize("ref", ["999", "no-such-slug", "0", "12abc"])
async def test_get_unknown_is_404(api: Api, ref: str) -> None:
    body = assert_error(await api("GET", f"/v2/images/{ref}"), 404, "not_found")
    assert body["message"] == "The resource you were accessing could not be found."


async def test_private_image_not_reachable_by_slug(empty: Emulator, empty_api: Api) -> None:
    empty.add_image(kind="snapshot", slug="my-private-slug")
    assert_error(await empty_api("GET", "/v2/images/my-private-slug"), 404, "not_found")


async def test_add_image_overrides_fields(empty: Emulator) -> None:
    image = empty.add_image(
        kind="custom", name="mine", regions=["ams3"], tags=["a"], created_at="2020-01-01T00:00:00Z"
    )
    assert (image.type, image.public) == ("custom", False)
    assert (image.name, image.regions, image.tags) == ("mine", ("ams3",), ("a",))
    assert image.created_at == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert empty.owner(image.id) == "default"
    assert empty.image(image.id) == image
    served = empty.image_json(image.id)
    assert served is not None
    assert (served["regions"], served["created_at"]) == (["ams3"], "2020-01-01T00:00:00Z")
    served["name"] = "changed locally"
    assert (empty.image_json(image.id) or {})["name"] == "mine"
    with pytest.raises(ValueError, match="kind"):
        empty.add_image(kind="weird")  # type: ignore[arg-type]


async def test_new_images_are_dated_now_unless_told(empty: Emulator) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    one = empty.add_image(kind="snapshot")
    many = empty.add_images(3, kind="snapshot")
    after = datetime.now(timezone.utc)
    for image in (one, many[-1]):
        assert image.created_at is not None
        assert before <= image.created_at <= after
    dates = [image.created_at for image in many]
    assert dates == sorted(dates)  # the newest id is the newest image
    assert len(set(dates)) == 3
    old = empty.add_images(2, kind="snapshot", created_at="2021-05-01T00:00:00Z")
    assert {image.created_at for image in old} == {datetime(2021, 5, 1, tzinfo=timezone.utc)}


async def test_import_lifecycle_new_to_available(empty_api: Api) -> None:
    body = {
        "name": "ubuntu-18.04-minimal",
        "url": "http://cloud-images.ubuntu.com/minimal.img",
        "region": "nyc3",
        "distribution": "Ubuntu",
        "description": "small",
        "tags": ["base-image", "prod"],
    }
    created = await empty_api("POST", "/v2/images", json=body)
    assert created.status == 202
    image = created.json["image"]
    assert (image["status"], image["type"], image["regions"]) == ("NEW", "custom", [])
    assert image["tags"] == ["base-image", "prod"]
    got = (await empty_api("GET", f"/v2/images/{image['id']}")).json["image"]
    assert got["status"] == "available"
    assert got["regions"] == ["nyc3"]
    assert got["error_message"] == ""


async def test_import_lifecycle_takes_steps_gets(session: aiohttp.ClientSession) -> None:
    async with Emulator(seed=False, steps=3) as emu:
        api = Api(session, emu)
        body = {"name": "n", "url": "https://example.com/x.qcow2", "region": "ams3"}
        image_id = (await api("POST", "/v2/images", json=body)).json["image"]["id"]
        statuses = [
            (await api("GET", f"/v2/images/{image_id}")).json["image"]["status"] for _ in range(4)
        ]
        assert statuses == ["NEW", "NEW", "available", "available"]
        # listing does not advance anything
        assert emu.image_json(image_id)["status"] == "available"  # type: ignore[index]


async def test_import_failure_ends_deleted_with_message(empty_api: Api) -> None:
    body = {"name": "bad", "url": "http://example.com/will-fail.img", "region": "sfo3"}
    image_id = (await empty_api("POST", "/v2/images", json=body)).json["image"]["id"]
    image = (await empty_api("GET", f"/v2/images/{image_id}")).json["image"]
    assert image["status"] == "deleted"
    assert image["error_message"]


async def test_set_image_forces_status(empty: Emulator, empty_api: Api) -> None:
    body = {"name": "n", "url": "http://example.com/x.img", "region": "nyc3"}
    image_id = (await empty_api("POST", "/v2/images", json=body)).json["image"]["id"]
    empty.set_image(image_id, status="pending")
    assert (await empty_api("GET", f"/v2/images/{image_id}")).json["image"]["status"] == "pending"
    with pytest.raises(KeyError):
        empty.set_image(1, name="x")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://a/b", "region": "nyc3"}, "name"),
        ({"name": "", "url": "http://a/b", "region": "nyc3"}, "name"),
        ({"name": 5, "url": "http://a/b", "region": "nyc3"}, "name"),
        ({"name": "n", "region": "nyc3"}, "url"),
        ({"name": "n", "url": "ftp://a/b", "region": "nyc3"}, "url"),
        ({"name": "n", "url": "http://a/b"}, "region"),
        ({"name": "n", "url": "http://a/b", "region": "mars1"}, "region"),
        ({"name": "n", "url": "http://a/b", "region": "nyc3", "tags": "prod"}, "tags"),
        ({"name": "n", "url": "http://a/b", "region": "nyc3", "tags": [1]}, "tags"),
        ({"name": "n", "url": "http://a/b", "region": "nyc3", "distribution": 3}, "distribution"),
    ],
)
async def test_import_validation_is_422_naming_the_field(
    empty: Emulator, empty_api: Api, body: dict[str, object], field: str
) -> None:
    answer = await empty_api("POST", "/v2/images", json=body)
    error = assert_error(answer, 422, "unprocessable_entity")
    assert field in error["message"]
    assert empty.requests[-1].status == 422
    assert (await empty_api("GET", "/v2/images")).json["meta"]["total"] == 0


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
async def test_unparsable_body_is_400(empty_api: Api, raw: bytes) -> None:
    error = assert_error(await empty_api("POST", "/v2/images", data=raw), 400, "bad_request")
    assert error["message"] == "error parsing request body"


async def test_unknown_distribution_becomes_unknown(empty_api: Api) -> None:
    body = {"name": "n", "url": "http://a/b", "region": "nyc3", "distribution": "Plan9"}
    image = (await empty_api("POST", "/v2/images", json=body)).json["image"]
    assert image["distribution"] == "Unknown"


async def test_update_own_image(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="custom").id
    answer = await empty_api(
        "PUT",
        f"/v2/images/{image_id}",
        json={"name": "renamed", "description": "d", "distribution": "Debian"},
    )
    assert answer.status == 200
    image = answer.json["image"]
    assert (image["name"], image["description"], image["distribution"]) == (
        "renamed",
        "d",
        "Debian",
    )
    error = assert_error(
        await empty_api("PUT", f"/v2/images/{image_id}", json={"name": ""}),
        422,
        "unprocessable_entity",
    )
    assert "name" in error["message"]


async def test_update_public_or_unknown_is_404(api: Api) -> None:
    public = (await api("GET", "/v2/images/debian-12-x64")).json["image"]
    assert_error(
        await api("PUT", f"/v2/images/{public['id']}", json={"name": "x"}), 404, "not_found"
    )
    assert_error(await api("PUT", "/v2/images/1", json={"name": "x"}), 404, "not_found")
    assert_error(
        await api("PUT", "/v2/images/ubuntu-24-04-x64", json={"name": "x"}), 404, "not_found"
    )


async def test_delete(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot").id
    public_id = empty.add_image().id
    answer = await empty_api("DELETE", f"/v2/images/{image_id}")
    assert answer.status == 204
    assert answer.body == b""
    assert answer.headers["x-request-id"]
    assert empty.image(image_id) is None
    assert_error(await empty_api("GET", f"/v2/images/{image_id}"), 404, "not_found")
    assert_error(await empty_api("DELETE", f"/v2/images/{image_id}"), 404, "not_found")
    # public images are not the caller's to delete: 404, as for any image it does not own
    assert_error(await empty_api("DELETE", f"/v2/images/{public_id}"), 404, "not_found")
    assert empty.image(public_id) is not None


async def test_unknown_route_and_wrong_method(api: Api) -> None:
    assert_error(await api("GET", "/v2/droplets"), 404, "not_found")
    assert_error(await api("GET", "/v2/images/1/2/3/4"), 404, "not_found")
    answer = await api("PATCH", "/v2/images")
    assert_error(answer, 405, "method_not_allowed")
    assert_error(await api("DELETE", "/v2/images/1/actions"), 405, "method_not_allowed")


async def test_a_trailing_slash_is_the_same_resource(api: Api) -> None:
    # The real API answers "/v2/images/" as "/v2/images"; python-digitalocean sends the slash.
    plain = await api("GET", "/v2/images", params={"type": "distribution"})
    slashed = await api("GET", "/v2/images/", params={"type": "distribution"})
    assert slashed.status == 200
    assert slashed.json["images"] == plain.json["images"]
    one = await api("GET", f"/v2/images/{plain.json['images'][0]['id']}/")
    assert one.json["image"] == plain.json["images"][0]
