"""The generated fast decode path never accepts what the detailed converter refuses, and agrees
with it on everything it accepts; failures still name the index and field."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import pytest

import do_images
from do_images import _convert
from do_images._models import Action, Image, Region

IMAGE = {
    "id": 7,
    "name": "24.04 (LTS) x64",
    "type": "base",
    "distribution": "Ubuntu",
    "slug": "ubuntu-24-04-x64",
    "public": True,
    "regions": ["nyc3", "ams3"],
    "created_at": "2024-04-25T12:00:00Z",
    "min_disk_size": 15,
    "size_gigabytes": 2.36,
    "description": "",
    "tags": [],
    "status": "available",
    "error_message": "",
}
ACTION = {
    "id": 1,
    "status": "completed",
    "type": "transfer",
    "started_at": "2024-04-25T12:00:00",
    "completed_at": None,
    "resource_id": 7,
    "resource_type": "image",
    "region": {"slug": "nyc3", "name": "New York 3", "sizes": [], "available": True},
    "region_slug": "nyc3",
}
# JSON values of every kind, good and bad for some field.
VALUES: list[Any] = [
    None, 0, 3, True, False, 1.5, -2.0, "", "nyc3", "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05", "2024-01-02T03:04:05+02:00", "yesterday", [], ["a", "b"], ["a", 1],
    [None], {}, {"slug": "nyc3"}, {"slug": 3}, {"sizes": ["s"], "available": "yes"},
]  # fmt: skip


def _decode(data: Any, cls: type[Any]) -> tuple[str, Any]:
    try:
        return "ok", _convert.structure_list([data], cls, where="items", status=200, body=b"")
    except do_images.ResponseDecodeError as error:
        return "error", str(error)


def _detailed(data: Any, cls: type[Any]) -> tuple[str, Any]:
    try:
        return "ok", [_convert._detailed(data, cls, "items[0]", 200, b"")]
    except do_images.ResponseDecodeError as error:
        return "error", str(error)


@pytest.mark.parametrize(("cls", "base"), [(Image, IMAGE), (Action, ACTION)])
def test_fast_path_agrees_with_the_detailed_converter(cls: type[Any], base: dict[str, Any]) -> None:
    rng = random.Random(4)
    for _ in range(3000):
        data = dict(base)
        for key in rng.sample(sorted(base), rng.randint(1, 3)):
            if rng.random() < 0.2:
                del data[key]
            else:
                data[key] = rng.choice(VALUES)
        if rng.random() < 0.1:
            data["added_later"] = {"x": 1}
        assert _decode(data, cls) == _detailed(data, cls), data


def test_fast_path_decodes_a_full_image() -> None:
    image = _convert.structure_list([IMAGE, {"id": 8}], Image, where="images", status=200, body=b"")
    assert image[0].regions == ("nyc3", "ams3")
    assert image[0].tags == ()
    assert image[0].created_at == datetime(2024, 4, 25, 12, tzinfo=timezone.utc)
    assert image[1] == Image(id=8)
    assert type(_convert.structure({"size_gigabytes": 2}, Image, where="image", status=200,
                                   body=b"").size_gigabytes) is float  # fmt: skip


def test_action_region_as_slug_or_object() -> None:
    as_slug = _convert.structure(
        {**ACTION, "region": "nyc3"}, Action, where="a", status=200, body=b""
    )
    assert as_slug.region == Region(slug="nyc3")
    assert as_slug.started_at == datetime(2024, 4, 25, 12, tzinfo=timezone.utc)
    as_object = _convert.structure(ACTION, Action, where="a", status=200, body=b"")
    assert as_object.region == Region(slug="nyc3", name="New York 3", sizes=(), available=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", "7"), ("id", True), ("public", 1), ("regions", ["a", 2]), ("regions", "nyc3"),
     ("created_at", 5), ("created_at", "yesterday"), ("size_gigabytes", "2"), ("name", 3)],
)  # fmt: skip
def test_a_bad_item_names_its_index_and_field(field: str, value: Any) -> None:
    items = [IMAGE, IMAGE, {**IMAGE, field: value}]
    with pytest.raises(do_images.ResponseDecodeError, match=rf"^images\[2\]\.{field}: "):
        _convert.structure_list(items, Image, where="images", status=200, body=b"")
