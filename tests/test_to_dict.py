"""to_dict / from_dict: stored inventories round-trip through JSON, over the recorded bodies of
other clients and over generated models."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import do_images
from do_images import Action, Image, Region, from_dict, to_dict
from do_images._convert import PageBody, decode_one, decode_page

from .test_convert import WITHOUT_ID

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
ENVELOPES: dict[str, type[Any]] = {"image": Image, "images": Image, "action": Action}
ENVELOPES["actions"] = Action


def recorded_models() -> list[tuple[str, Any]]:
    """Every model in the recorded bodies (godo's and python-digitalocean's test suites)."""
    found: list[tuple[str, Any]] = []
    for path in sorted(FIXTURES.rglob("*.json")) if FIXTURES.is_dir() else []:
        body = path.read_bytes()
        (key,) = json.loads(body).keys() & ENVELOPES.keys()
        name = str(path.relative_to(FIXTURES))
        if name in WITHOUT_ID:  # hand-written bodies with no integer id: decode errors
            continue
        if key.endswith("s"):
            page: PageBody[Any] = decode_page(body, key, ENVELOPES[key], status=200)
            found += [(f"{name}[{n}]", item) for n, item in enumerate(page.items)]
        else:
            found.append((name, decode_one(body, key, ENVELOPES[key], status=200)))
    return found


def through_json(model: Any) -> Any:
    """What an inventory stored as JSON text gives back."""
    return from_dict(type(model), json.loads(json.dumps(to_dict(model))))


@pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"{FIXTURES} is absent (the recorded bodies live beside the repo)"
)
def test_every_recorded_model_round_trips_through_json() -> None:
    models = recorded_models()
    assert len(models) >= 30  # 26 decodable bodies, some of them pages of several
    for name, model in models:
        assert through_json(model) == model, name
        assert from_dict(type(model), to_dict(model)) == model, name


# Timestamps of any zone (DigitalOcean's are UTC; a stored inventory may hold others).
zones = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)
)
stamps = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=zones
)
texts = st.text(max_size=20)
strings = st.tuples() | st.lists(texts, max_size=4).map(tuple)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


regions = st.builds(
    Region,
    slug=maybe(texts),
    name=maybe(texts),
    sizes=strings,
    features=strings,
    available=maybe(st.booleans()),
)
images = st.builds(
    Image,
    id=st.integers(1, 2**53),
    name=maybe(texts),
    type=maybe(texts),
    distribution=maybe(texts),
    slug=maybe(texts),
    public=maybe(st.booleans()),
    regions=strings,
    created_at=maybe(stamps),
    min_disk_size=maybe(st.integers(0, 10**6)),
    size_gigabytes=maybe(st.floats(0, 1e6, allow_nan=False)),
    description=maybe(texts),
    tags=strings,
    status=maybe(texts),
    error_message=maybe(texts),
)
actions = st.builds(
    Action,
    id=st.integers(1, 2**53),
    status=maybe(texts),
    type=maybe(texts),
    started_at=maybe(stamps),
    completed_at=maybe(stamps),
    resource_id=maybe(st.integers(1, 2**53)),
    resource_type=maybe(texts),
    region=maybe(regions),
    region_slug=maybe(texts),
)


@given(images | actions)
def test_generated_models_round_trip_through_json(model: Image | Action) -> None:
    cls: Any = type(model)
    assert through_json(model) == model
    assert from_dict(cls, to_dict(model)) == model


@given(images)
def test_a_stored_image_is_json_ready_with_zoned_timestamps(image: Image) -> None:
    data = to_dict(image)
    assert json.loads(json.dumps(data)) == data  # only JSON types: lists, not tuples
    if image.created_at is not None:
        stored = data["created_at"]
        assert isinstance(stored, str)
        assert datetime.fromisoformat(stored) == image.created_at
        assert datetime.fromisoformat(stored).utcoffset() == image.created_at.utcoffset()


def test_the_stored_form_uses_the_api_field_names() -> None:
    image = Image(
        id=7, regions=("nyc3",), created_at=datetime(2024, 4, 25, 12, tzinfo=timezone.utc)
    )
    data = to_dict(image)
    assert data["id"] == 7
    assert data["regions"] == ["nyc3"]
    assert data["created_at"] == "2024-04-25T12:00:00+00:00"
    action = Action(id=1, region=Region(slug="nyc3"))
    assert to_dict(action)["region"] == {
        "slug": "nyc3",
        "name": None,
        "sizes": [],
        "features": [],
        "available": None,
    }


def test_unknown_keys_are_ignored_and_api_answers_are_read_as_well() -> None:
    image = Image(id=7, name="x", created_at=datetime(2024, 4, 25, 12, tzinfo=timezone.utc))
    assert from_dict(Image, {**to_dict(image), "added_later": {"a": 1}}) == image
    # As the API sends it: `Z`, and a bare-slug region in an old action.
    assert from_dict(Image, {"id": 7, "name": "x", "created_at": "2024-04-25T12:00:00Z"}) == image
    assert from_dict(Action, {"id": 1, "region": "nyc3"}).region == Region(slug="nyc3")


@pytest.mark.parametrize(
    ("cls", "data", "message"),
    [
        (Image, {"id": 7, "min_disk_size": "15"}, "min_disk_size"),
        (Image, {"id": 7, "tags": "prod"}, "tags"),
        (Image, {"id": 7, "created_at": "yesterday"}, "created_at"),
        (Action, {"id": 1, "region": [1]}, "region"),
    ],
)
def test_a_wrong_value_raises_value_error_naming_the_field(
    cls: type[Any], data: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        from_dict(cls, data)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="model must be an Image, Action or Region"):
        to_dict({"id": 7})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cls must be Image, Action or Region"):
        from_dict(dict, {})  # type: ignore[type-var]
    with pytest.raises(TypeError, match="data must be a mapping"):
        from_dict(Image, [("id", 7)])  # type: ignore[arg-type]
    assert do_images.to_dict is to_dict
