"""The decode edge without a server: recorded bodies of other clients, every JSON type mismatch,
missing and unknown fields, odd envelopes; msgspec's one pass agrees with the cattrs converter.
"""

from __future__ import annotations

import ast
import json
import random
import typing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest

import do_images
from do_images import _convert
from do_images._convert import PageBody, decode_error_fields, decode_one, decode_page
from do_images._models import Action, Image, Region

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
UTC = timezone.utc

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
    "started_at": "2024-04-25T12:00:00Z",
    "completed_at": None,
    "resource_id": 7,
    "resource_type": "image",
    "region": {"slug": "nyc3", "name": "New York 3", "sizes": [], "available": True},
    "region_slug": "nyc3",
}
BASES: dict[type[Any], dict[str, Any]] = {Image: IMAGE, Action: ACTION, Region: ACTION["region"]}
KEYS = {Image: ("image", "images"), Action: ("action", "actions")}


def _bytes(value: object) -> bytes:
    return json.dumps(value).encode()


def _page(cls: type[Any], items: list[Any], **extra: Any) -> PageBody[Any]:
    key = KEYS[cls][1]
    return decode_page(_bytes({key: items, **extra}), key, cls, status=200)


def _one(cls: type[Any], value: Any, **options: Any) -> Any:
    key = KEYS[cls][0]
    return decode_one(_bytes({key: value}), key, cls, status=200, **options)


# --- Recorded bodies of godo's and python-digitalocean's test suites ----------------------

needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"{FIXTURES} is absent (the recorded bodies live beside the repo)"
)
ENVELOPES = {"image": Image, "images": Image, "action": Action, "actions": Action}


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.rglob("*.json")) if FIXTURES.is_dir() else []


def _decode_fixture(path: Path) -> tuple[str, Any]:
    body = path.read_bytes()
    (key,) = json.loads(body).keys() & ENVELOPES.keys()  # each names exactly one envelope
    if key.endswith("s"):
        return key, decode_page(body, key, ENVELOPES[key], status=200)
    return key, decode_one(body, key, ENVELOPES[key], status=200)


# Hand-written bodies whose image or action has no integer id: no real answer lacks one, so
# these are decode errors naming the field.
WITHOUT_ID = {
    "godo/image_actions_convert.json": r"^action\.id: required field missing",
    "godo/image_actions_get.json": r"^action\.id: required field missing",
    "godo/image_actions_transfer.json": r"^action\.id: required field missing",
    "python-digitalocean/images/slug.json": r"^image\.id: expected integer, got NoneType",
}


@needs_fixtures
@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_recorded_body_decodes_as_the_converter_alone_would(path: Path) -> None:
    if str(path.relative_to(FIXTURES)) in WITHOUT_ID:
        with pytest.raises(
            do_images.ResponseDecodeError, match=WITHOUT_ID[str(path.relative_to(FIXTURES))]
        ):
            _decode_fixture(path)
        return
    key, decoded = _decode_fixture(path)
    data = json.loads(path.read_bytes())[key]
    cls = ENVELOPES[key]
    if isinstance(decoded, PageBody):
        assert decoded.items == [_convert.converter.structure(item, cls) for item in data]
        assert decoded.items
        assert all(type(item) is cls for item in decoded.items)
    else:
        assert decoded == _convert.converter.structure(data, cls)


@needs_fixtures
def test_recorded_bodies_in_detail() -> None:
    names = {str(path.relative_to(FIXTURES)): path for path in _fixtures()}
    assert len(names) == 30  # 18 of godo's, 12 of python-digitalocean's
    found = {
        name: _decode_fixture(path)[1] for name, path in names.items() if name not in WITHOUT_ID
    }
    assert WITHOUT_ID.keys() <= names.keys()
    # python-digitalocean: the old API v2 shape gives an action's region as a bare slug.
    multi = found["python-digitalocean/actions/multi.json"]
    assert multi.items[0].region == Region(slug="nyc3")
    assert multi.items[0].started_at == datetime(2014, 12, 21, 4, 15, 29, tzinfo=UTC)
    assert (multi.total, multi.next_link) == (2, False)  # `"links": {}`: no next page
    assert found["python-digitalocean/images/single.json"].slug is None  # no `slug` key
    everything = found["python-digitalocean/images/all.json"]
    assert (everything.total, everything.next_link) == (3, None)  # no `links` at all
    assert everything.items[2].slug == ""
    assert everything.items[2].regions == ("nyc1", "nyc3")
    assert everything.items[0].size_gigabytes == 1.34
    transfer = found["python-digitalocean/images/transfer.json"]
    assert transfer.region.features == ("private_networking", "backups", "ipv6", "metadata")
    assert transfer.completed_at is None
    created = found["python-digitalocean/images/create.json"]
    assert (created.status, created.regions, created.tags) == ("NEW", (), ("base-image", "prod"))
    # godo: thin hand-written bodies; list pages without `meta`.
    pages = found["godo/images_list_multiple_pages.json"]
    assert (pages.items, pages.total, pages.next_link) == ([Image(id=1), Image(id=2)], None, True)
    assert found["godo/images_list.json"].total == 2
    get = found["godo/actions_get.json"]
    assert get.region == Region("slug", "name", ("512mb",), ("virtio",), True)
    assert found["godo/images_create.json"].created_at == datetime(2018, 9, 20, 19, 28, tzinfo=UTC)


# --- Every JSON type mismatch, per field type -----------------------------------------------

# JSON values that are wrong for a field of each type (None is right for every field but an id).
WRONG: dict[object, list[Any]] = {
    str: [3, 1.5, True, [], {}],
    int: ["7", True, False, 1.5, 1.0, [], {}],
    "id": [None, "7", True, False, 1.5, 1.0, [], {}],
    bool: [1, 0, "true", 1.5, [], {}],
    float: ["2.5", True, [], {}],
    tuple[str, ...]: ["nyc3", ["a", 1], [None], [["a"]], {}, 5, True],
    datetime: [5, 1.5, True, "yesterday", "", "2024-13-01T00:00:00Z", [], {}],
    Region: [5, True, [], {"slug": 3}, {"sizes": "s"}, {"available": "yes"}, {"features": [1]}],
}


def _field_type(cls: type[Any], name: str) -> object:
    hint = typing.get_type_hints(cls)[name]
    if name == "id":
        return "id"  # required: null is wrong too
    if typing.get_origin(hint) is tuple:
        return hint  # a collection: null is ()
    (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return inner


MISMATCHES = [
    (cls, field.name, value)
    for cls in (Image, Action)
    for field in attrs.fields(cls)
    for value in WRONG[_field_type(cls, field.name)]
]


def test_the_mismatch_table_covers_every_field_type() -> None:
    kinds = {_field_type(cls, f.name) for cls in (Image, Action, Region) for f in attrs.fields(cls)}
    kinds.discard("id")
    assert kinds <= WRONG.keys()
    assert len({(cls, name) for cls, name, _ in MISMATCHES}) == 23  # every field of both models


@pytest.mark.parametrize(("cls", "field", "value"), MISMATCHES, ids=repr)
def test_a_type_mismatch_in_a_page_names_the_index_and_field(
    cls: type[Any], field: str, value: Any
) -> None:
    key = KEYS[cls][1]
    items = [BASES[cls], {**BASES[cls], field: value}, BASES[cls]]
    with pytest.raises(do_images.ResponseDecodeError, match=rf"^{key}\[1\]\.{field}\b") as caught:
        _page(cls, items)
    assert caught.value.status == 200
    assert caught.value.excerpt.startswith("{")


@pytest.mark.parametrize(("cls", "field", "value"), MISMATCHES, ids=repr)
def test_a_type_mismatch_in_one_object_names_the_field(
    cls: type[Any], field: str, value: Any
) -> None:
    key = KEYS[cls][0]
    with pytest.raises(do_images.ResponseDecodeError, match=rf"^{key}\.{field}\b"):
        _one(cls, {**BASES[cls], field: value}, bare_ok=cls is Action)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("slug", 3, "slug"), ("sizes", ["s", 2], "sizes"), ("available", 1, "available")],
)
def test_a_bad_field_inside_a_region_names_the_whole_path(
    field: str, value: Any, named: str
) -> None:
    region = {**ACTION["region"], field: value}  # type: ignore[dict-item]
    items = [ACTION, {**ACTION, "region": region}]
    with pytest.raises(do_images.ResponseDecodeError, match=rf"^actions\[1\]\.region\.{named}: "):
        _page(Action, items)


@pytest.mark.parametrize("value", [True, False, "7", 7.0])
def test_an_integer_is_never_a_bool_a_string_or_a_float(value: Any) -> None:
    with pytest.raises(do_images.ResponseDecodeError, match=r"^images\[0\]\.id: expected integer"):
        _page(Image, [{"id": value}])


def test_a_number_is_a_float_and_never_a_bool() -> None:
    size = _page(Image, [{"id": 1, "size_gigabytes": 2}]).items[0].size_gigabytes
    assert (size, type(size)) == (2.0, float)
    with pytest.raises(do_images.ResponseDecodeError, match=r"size_gigabytes: expected number"):
        _page(Image, [{"id": 1, "size_gigabytes": True}])


# --- Missing, unknown and lenient -----------------------------------------------------------


def test_a_full_image_decodes_to_typed_values() -> None:
    (image,) = _page(Image, [IMAGE]).items
    assert image == Image(
        id=7,
        name="24.04 (LTS) x64",
        type="base",
        distribution="Ubuntu",
        slug="ubuntu-24-04-x64",
        public=True,
        regions=("nyc3", "ams3"),
        created_at=datetime(2024, 4, 25, 12, tzinfo=UTC),
        min_disk_size=15,
        size_gigabytes=2.36,
        description="",
        tags=(),
        status="available",
        error_message="",
    )


@pytest.mark.parametrize("cls", [Image, Action])
def test_missing_fields_and_nulls_decode_as_none_and_lists_as_empty(cls: type[Any]) -> None:
    everything_null = {**dict.fromkeys(BASES[cls]), "id": 2}
    assert _page(cls, [{"id": 1}, everything_null]).items == [cls(id=1), cls(id=2)]
    assert _one(cls, {"id": 1}) == cls(id=1)
    if cls is Image:
        (image,) = _page(Image, [everything_null]).items
        assert (image.regions, image.tags) == ((), ())


@pytest.mark.parametrize("cls", [Image, Action])
@pytest.mark.parametrize("value", [{}, {"id": None}, {"name": "x", "status": "NEW"}])
def test_an_image_or_action_without_an_integer_id_names_the_field(
    cls: type[Any], value: dict[str, Any]
) -> None:
    key, many = KEYS[cls]
    with pytest.raises(do_images.ResponseDecodeError, match=rf"^{many}\[1\]\.id: "):
        _page(cls, [BASES[cls], value])
    with pytest.raises(do_images.ResponseDecodeError, match=rf"^{key}\.id: "):
        _one(cls, value)


def test_unknown_fields_and_enum_values_are_tolerated() -> None:
    later = {**IMAGE, "status": "frozen", "type": "hologram", "added_later": {"x": [1, None]}}
    (image,) = _page(Image, [later]).items
    assert (image.status, image.type) == ("frozen", "hologram")
    action = _one(Action, {**ACTION, "status": "paused", "region": {"slug": "x", "new": 1}})
    assert (action.status, action.region) == ("paused", Region(slug="x"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.5Z", datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456Z", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2024-01-02T03:04:05+00:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        # A naive timestamp is read as UTC (DigitalOcean's timestamps are UTC).
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.25", datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_come_out_aware(text: str, expected: datetime) -> None:
    (image,) = _page(Image, [{"id": 1, "created_at": text}]).items
    assert image.created_at == expected
    assert image.created_at is not None
    assert image.created_at.utcoffset() is not None
    action = _one(Action, {"id": 1, "started_at": text})
    assert action.started_at == expected
    assert action.started_at.tzinfo is not None


def test_an_offset_is_kept() -> None:
    (image,) = _page(Image, [{"id": 1, "created_at": "2024-01-02T05:04:05+02:00"}]).items
    assert image.created_at is not None
    assert image.created_at.utcoffset() == timedelta(hours=2)


def test_a_region_given_as_a_bare_slug_becomes_a_region() -> None:
    items = [ACTION, {**ACTION, "region": "nyc3", "started_at": "2024-04-25T12:00:00"}]
    page = _page(Action, items)
    assert page.items[1].region == Region(slug="nyc3")
    assert page.items[1].started_at == datetime(2024, 4, 25, 12, tzinfo=UTC)
    assert page.items[0].region == Region(slug="nyc3", name="New York 3", sizes=(), available=True)
    assert _one(Action, {"id": 1, "region": "ams3"}).region == Region(slug="ams3")


def test_a_well_formed_page_is_decoded_by_msgspec_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> object:
        raise AssertionError("the cattrs converter was consulted")

    monkeypatch.setattr(_convert, "_lenient", refuse)
    page = _page(Image, [IMAGE, {"id": 8, "created_at": "2024-01-02T03:04:05.5Z"}])
    assert [image.id for image in page.items] == [7, 8]
    assert _one(Action, ACTION).id == 1
    with pytest.raises(AssertionError, match="consulted"):  # a bare slug does need it
        _page(Action, [{**ACTION, "region": "nyc3"}])


# --- Envelopes -------------------------------------------------------------------------------

NOT_JSON = [b"", b"   ", b"<html><body>502</body></html>", b'{"images": [{"id": 1}', b"\xff\xfe"]
NOT_JSON += [b'{"images": []} trailing']


@pytest.mark.parametrize("body", NOT_JSON, ids=lambda b: repr(b[:20]))
def test_a_body_that_is_not_json_is_a_decode_error(body: bytes) -> None:
    for decode in (
        lambda: decode_page(body, "images", Image, status=200),
        lambda: decode_one(body, "image", Image, status=201),
        lambda: decode_one(body, "action", Action, status=201, bare_ok=True),
    ):
        with pytest.raises(do_images.ResponseDecodeError, match="not JSON") as caught:
            decode()
        assert caught.value.status in (200, 201)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"images": ' + b"[" * 100_000])
def test_deep_nesting_is_a_decode_error_not_a_recursion_error(body: bytes) -> None:
    with pytest.raises(do_images.ResponseDecodeError):
        decode_page(body, "images", Image, status=200)
    with pytest.raises(do_images.ResponseDecodeError):
        decode_one(body, "image", Image, status=200)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"null", "expected `object`, got `null`"),
        (b"[1, 2]", "expected `object`, got `array`"),
        (b'"images"', "expected `object`, got `str`"),
        (b"{}", "missing required field `images`"),
        (b'{"image": {"id": 1}}', "missing required field `images`"),
        (b'{"images": null}', r"^images: expected `array`, got `null`"),
        (b'{"images": {"id": 1}}', r"^images: expected `array`, got `object`"),
        (b'{"images": "nyc3"}', r"^images: expected `array`, got `str`"),
        (b'{"images": [null]}', r"^images\[0\]: expected an object, got NoneType"),
        (b'{"images": [{"id": 1}, 7]}', r"^images\[1\]: expected an object, got int"),
    ],
)
def test_a_page_envelope_of_the_wrong_shape_is_a_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(do_images.ResponseDecodeError, match=message) as caught:
        decode_page(body, "images", Image, status=200)
    assert caught.value.status == 200


@pytest.mark.parametrize(
    ("meta", "total"),
    [
        *[({"total": 5}, 5), ({"total": 0}, 0), (None, None), ("5", None), ([5], None)],
        *[({}, None), ({"total": "5"}, None), ({"total": True}, None), ({"total": 5.0}, None)],
    ],
)
def test_meta_total_is_an_integer_or_none(meta: Any, total: int | None) -> None:
    page = _page(Image, [{"id": 1}], meta=meta)
    assert (page.items, page.total) == ([Image(id=1)], total)
    assert _page(Image, [], meta=meta).total == total


@pytest.mark.parametrize(
    ("links", "next_link"),
    [
        ({"pages": {"next": "https://api.digitalocean.com/v2/images?page=2"}}, True),
        ({"pages": {"last": "…", "prev": "…"}}, False),
        ({"pages": {"next": ""}}, False),
        ({"pages": {"next": None}}, False),
        ({"pages": "next"}, False),
        ({}, False),
        (None, None),
        ("next", None),
        ([{"pages": {"next": "x"}}], None),
    ],
)
def test_odd_links_are_tolerated(links: Any, next_link: bool | None) -> None:
    assert _page(Image, [{"id": 1}], links=links, meta={"total": 9}).next_link is next_link


def test_a_page_without_links_or_meta() -> None:
    page = decode_page(b'{"images": [{"id": 1}]}', "images", Image, status=200)
    assert page == PageBody(items=[Image(id=1)], total=None, next_link=None)


@pytest.mark.parametrize(
    "body",
    [b'{"image": null}', b'{"image": "x"}', b'{"image": [1]}', b'{"images": []}', b"{}"],
)
def test_one_object_of_the_wrong_shape_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(do_images.ResponseDecodeError, match=r"^image: expected an object"):
        decode_one(body, "image", Image, status=200)


def test_bare_ok_accepts_the_object_itself() -> None:
    bare = _bytes(ACTION)
    assert decode_one(bare, "action", Action, status=201, bare_ok=True).id == 1
    assert decode_one(_bytes({"action": None, "id": 3}), "action", Action, status=201, bare_ok=True)
    with pytest.raises(do_images.ResponseDecodeError, match=r"^action: expected an object"):
        decode_one(bare, "action", Action, status=201)
    with pytest.raises(do_images.ResponseDecodeError, match=r"^action: expected an object"):
        decode_one(b'{"unrelated": 1}', "action", Action, status=201, bare_ok=True)
    # The wrapped object wins over the bare body when both are there.
    wrapped = _bytes({"id": 9, "action": {"id": 1}})
    assert decode_one(wrapped, "action", Action, status=201, bare_ok=True).id == 1


@pytest.mark.parametrize(
    ("body", "result"),
    [
        (b'{"transfer_id": 12}', 12),
        (b'{"transfer_id": 0, "more": []}', 0),
        *[(b'{"transfer_id": "12"}', None), (b'{"transfer_id": true}', None)],
        *[(b'{"transfer_id": null}', None), (b'{"transfer": 1}', None), (b"[]", None)],
    ],
)
def test_a_plain_value_under_a_key(body: bytes, result: int | None) -> None:
    if result is not None:
        assert decode_one(body, "transfer_id", int, status=201) == result
    else:
        with pytest.raises(do_images.ResponseDecodeError, match=r"^transfer_id: expected integer"):
            decode_one(body, "transfer_id", int, status=201)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b'{"id": "not_found", "message": "gone", "request_id": "r"}', {"id": "not_found"}),
        (b'{"id": 5}', {"id": 5}),
        (b"", {}),
        (b"null", {}),
        (b'["id"]', {}),
        (b'"message"', {}),
        (b"<html>502 Bad Gateway</html>", {}),
        (b'{"id": "x"', {}),
        (b"\xff\xfe{}", {}),
        (b"{" * 100_000, {}),
        (b"[" * 100_000, {}),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_error_fields_never_raise(body: bytes, fields: dict[str, Any]) -> None:
    assert decode_error_fields(body).items() >= fields.items()
    assert bool(decode_error_fields(body)) is bool(fields)


# --- msgspec's one pass agrees with the cattrs converter ------------------------------------

# JSON values of every kind, good and bad for some field.
VALUES: list[Any] = [
    None, 0, 3, -1, 2**70, True, False, 1.5, -2.0, 1.0, "", "nyc3", "7", "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05", "2024-01-02T03:04:05.123+02:00", "2024-01-02", "yesterday", [],
    ["a", "b"], ["a", 1], [None], {}, {"slug": "nyc3"}, {"slug": 3}, {"sizes": ["s"]},
    {"sizes": ["s"], "available": "yes"},
]  # fmt: skip


def _by_converter(data: Any, cls: type[Any]) -> tuple[str, Any]:
    try:
        return "ok", _convert.converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError):
        return "error", None


def _by_decode_page(data: Any, cls: type[Any]) -> tuple[str, Any]:
    try:
        (item,) = _page(cls, [data]).items
    except do_images.ResponseDecodeError as error:
        # The same verdict, and the error names the item's field (else the message shows).
        return "error", None if str(error).startswith(f"{KEYS[cls][1]}[0].") else str(error)
    return "ok", item


@pytest.mark.parametrize("cls", [Image, Action])
def test_decoding_agrees_with_the_converter_on_random_items(cls: type[Any]) -> None:
    rng = random.Random(4)
    for _ in range(3000):
        data = dict(BASES[cls])
        for key in rng.sample(sorted(data), rng.randint(1, 3)):
            if rng.random() < 0.2:
                del data[key]
            else:
                data[key] = rng.choice(VALUES)
        if rng.random() < 0.1:
            data["added_later"] = {"x": 1}
        assert _by_decode_page(data, cls) == _by_converter(data, cls), data


# --- No generated code ----------------------------------------------------------------------


def test_the_package_generates_no_code() -> None:
    calls = set()
    for path in (ROOT / "do_images").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in ("exec", "eval", "compile"):
                    calls.add(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.id}")
    assert not calls
