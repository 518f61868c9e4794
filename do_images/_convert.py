"""The decode edge: an answer's bytes become attrs models, or ResponseDecodeError naming the field.

msgspec decodes an answer in one pass with strict JSON types. An item it refuses is decoded
again by the one cattrs converter, the authority: it accepts what msgspec cannot express (a
region given as a bare slug, a naive timestamp) or names the field that failed.

Which library does what: msgspec decodes the wire (bytes -> models, the fast path); the cattrs
converter is the users' face (`to_dict`/`from_dict`: models <-> JSON-ready dicts for stored
inventories) and the lenient second opinion above.

Field strictness, stated once (the models' annotations; both libraries follow it): a field is
the JSON type it is annotated with, or null or absent (None); an integer field takes no float,
string or boolean, a number field takes an integer; a string list takes only strings;
timestamps are ISO 8601 strings, read as UTC when they carry no zone; an action's region is an
object or a bare slug; unknown keys are ignored; enum-like fields are plain strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, cast

import attrs
import cattrs
import msgspec

from ._errors import ResponseDecodeError
from ._models import Action, Image, Region

T = TypeVar("T")

# --- The cattrs converter: unstructuring, and the lenient, detailed second opinion ---------


def _expect(kind: type | tuple[type, ...], name: str) -> Callable[[Any, Any], Any]:
    def check(value: Any, _: Any) -> Any:
        if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
            return value
        raise TypeError(f"expected {name}, got {type(value).__name__} {value!r:.40}")

    return check


def _float(value: Any, _: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected number, got {type(value).__name__} {value!r:.40}")


def _strings(value: Any, _: Any) -> tuple[str, ...]:
    if value is None:
        return ()  # the spec marks `tags` nullable; a list left out or null is empty
    items = cast("list[object]", value) if isinstance(value, list) else None
    if items is not None and all(isinstance(item, str) for item in items):
        return tuple(cast("list[str]", items))
    raise TypeError(f"expected a list of strings, got {value!r:.60}")


_fromisoformat = datetime.fromisoformat


def _datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 timestamp, got {value!r:.40}")
    parsed = _fromisoformat(value)
    # DigitalOcean's timestamps are UTC; a naive one is read as UTC so every value is aware.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _build() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)
    conv.register_structure_hook(str, _expect(str, "string"))
    conv.register_structure_hook(int, _expect(int, "integer"))
    conv.register_structure_hook(bool, _expect(bool, "boolean"))
    conv.register_structure_hook(float, _float)
    conv.register_structure_hook_func(lambda cls: cls == tuple[str, ...], _strings)
    conv.register_structure_hook(datetime, _datetime)
    structure_region: Callable[[Any, Any], Region] = conv.get_structure_hook(Region)

    def region(value: Any, cls: Any) -> Region:
        # Older answers (and python-digitalocean's fixtures) give the region as a bare slug.
        if isinstance(value, str):
            return Region(slug=value)
        if isinstance(value, dict):
            return structure_region(value, cls)
        # cattrs alone would read `[]` as an empty Region.
        raise TypeError(f"expected an object or a slug, got {type(value).__name__} {value!r:.40}")

    conv.register_structure_hook(Region, region)
    return conv


converter = _build()
"""The converter of record: unstructures models (CLI output, round-trips) and decodes leniently."""


def _say(error: BaseException, _: Any) -> str:
    # A required field (an image's `id`) left out is a KeyError naming only the key.
    return "required field missing" if isinstance(error, KeyError) else str(error)


def _describe(error: Exception, where: str) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        # transform_error gives "<message> @ <path>"; we want "<path>: <message>".
        lines = cattrs.transform_error(error, path=where, format_exception=_say)
        return "; ".join("{1}: {0}".format(*line.rsplit(" @ ", 1)) for line in lines)
    return f"{where}: {error}"


def _lenient(value: Any, cls: type[T], where: str, status: int, body: bytes) -> T:
    """`value` (parsed JSON) as `cls` by the cattrs converter, or the error naming the field."""
    if attrs.has(cls) and not isinstance(value, dict):
        raise ResponseDecodeError(
            f"{where}: expected an object, got {type(value).__name__}", status=status, body=body
        )
    try:
        return converter.structure(value, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ResponseDecodeError(_describe(error, where), status=status, body=body) from None


# --- msgspec: one pass from bytes ----------------------------------------------------------

# What a failed msgspec decode can raise; deep nesting is a RecursionError, and invalid UTF-8
# inside a string a bare UnicodeDecodeError, not a DecodeError.
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def _why(error: Exception, body: bytes) -> str:
    """msgspec's complaint as ``images[1].id: expected `int | null`, got `str` ``."""
    if isinstance(error, UnicodeDecodeError):
        return "the body is not valid UTF-8 JSON: a string holds bytes that are not UTF-8"
    if not isinstance(error, msgspec.ValidationError):
        return "the body is not JSON: " + ("it is empty" if not body.strip() else str(error))
    what, at, path = str(error).partition(" - at `$")
    what = what[:1].lower() + what[1:]
    return f"{path.rstrip('`').lstrip('.')}: {what}" if at else what


# Decoders are built once per model and envelope key, on first use.
_DECODERS: dict[object, msgspec.json.Decoder[Any]] = {}


def _decoder(cls: type[Any]) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = msgspec.json.Decoder(cls)
    return decoder


def _one_decoder(key: str, cls: type[Any]) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get((key, cls))
    if decoder is None:
        answer = msgspec.defstruct(f"_{key}_answer", [(key, cls)])
        decoder = _DECODERS[key, cls] = msgspec.json.Decoder(answer)
    return decoder


def _page_decoders(
    key: str, cls: type[Any]
) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    """The strict decoder of a page, and the loose one that leaves each item as raw bytes."""
    strict, loose = _DECODERS.get(("page", key, cls)), _DECODERS.get(("raw page", key, cls))
    if strict is None or loose is None:
        # `links` and `meta` are read as plain JSON, so an odd shape of either never fails.
        extra: list[tuple[str, Any, Any]] = [("links", Any, None), ("meta", Any, None)]
        items: Any = list[cls]  # type: ignore[valid-type]
        page = msgspec.defstruct(f"_{key}_page", [(key, items), *extra])
        raw_page = msgspec.defstruct(f"_{key}_raw_page", [(key, list[msgspec.Raw]), *extra])
        strict = _DECODERS["page", key, cls] = msgspec.json.Decoder(page)
        loose = _DECODERS["raw page", key, cls] = msgspec.json.Decoder(raw_page)
    return strict, loose


def _item(raw: msgspec.Raw, cls: type[T], where: str, status: int, body: bytes) -> T:
    try:
        return _decoder(cls).decode(raw)  # type: ignore[no-any-return]
    except UnicodeDecodeError as error:
        raise ResponseDecodeError(
            f"{where}: {_why(error, body)}", status=status, body=body
        ) from None
    except msgspec.ValidationError:
        # A bare-slug region, a naive timestamp, or a real error: cattrs decides and explains.
        return _lenient(msgspec.json.decode(raw), cls, where, status, body)


def decode_one(body: bytes, key: str, cls: type[T], *, status: int, bare_ok: bool = False) -> T:
    """The model under `key` of a JSON answer (``{"image": {...}}``); `bare_ok` accepts the
    object itself, as the official spec's action responses (wrongly) describe them."""
    try:
        return getattr(_one_decoder(key, cls).decode(body), key)  # type: ignore[no-any-return]
    except _DECODE_ERRORS:
        pass  # the slow way below accepts more, or says what is wrong
    try:
        data = msgspec.json.decode(body)
    except _DECODE_ERRORS as error:
        raise ResponseDecodeError(_why(error, body), status=status, body=body) from None
    obj = _object(data)
    value = obj.get(key) if obj is not None else None
    if value is None and bare_ok and obj is not None and obj.keys() & _fields(cls):
        value = obj
    return _lenient(value, cls, key, status, body)


def _object(value: Any) -> dict[str, Any] | None:
    """Parsed JSON as an object, or None when it is anything else."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _fields(cls: type[Any]) -> set[str]:
    return {field.name for field in attrs.fields(cls)} if attrs.has(cls) else set()


@attrs.frozen
class PageBody(Generic[T]):
    """One page of a listing as decoded: its items and what its `meta` and `links` say."""

    items: list[T]
    """The models under the page's key, in the answer's order."""
    total: int | None
    """`meta.total` when it is a JSON integer, else None."""
    next_link: bool | None
    """Whether `links.pages.next` names a page; None when the answer has no usable `links`."""


def _total(meta: Any) -> int | None:
    total = (_object(meta) or {}).get("total")
    return total if type(total) is int else None


def _next_link(links: Any) -> bool | None:
    obj = _object(links)
    if obj is None:
        return None
    pages = _object(obj.get("pages"))
    return pages is not None and bool(pages.get("next"))


def decode_page(body: bytes, key: str, cls: type[T], *, status: int) -> PageBody[T]:
    """A page envelope in one pass: the list under `key` (required), `links` and `meta`."""
    strict, loose = _page_decoders(key, cls)
    try:
        page = strict.decode(body)
        items: list[T] = getattr(page, key)
    except _DECODE_ERRORS:
        # Read the envelope with each item left as bytes, then decode item by item: only the
        # items msgspec refuses go to cattrs, and a bad one is named by its index.
        try:
            page = loose.decode(body)
        except _DECODE_ERRORS as error:
            raise ResponseDecodeError(_why(error, body), status=status, body=body) from None
        items = [
            _item(raw, cls, f"{key}[{index}]", status, body)
            for index, raw in enumerate(getattr(page, key))
        ]
    return PageBody(items, _total(page.meta), _next_link(page.links))


def decode_error_fields(body: bytes) -> dict[str, Any]:
    """An error answer's JSON object (``id``, ``message``, ``request_id``), or ``{}``; never
    raises, whatever the body holds."""
    try:
        data = msgspec.json.decode(body)
    except _DECODE_ERRORS:
        return {}
    return _object(data) or {}


# --- The users' face: stored inventories ---------------------------------------------------

Model = TypeVar("Model", Image, Action, Region)


def _iso(value: datetime) -> str:
    # Models hold aware timestamps; a naive one (made by hand) is UTC, as when decoded.
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


converter.register_unstructure_hook(datetime, _iso)
converter.register_unstructure_hook(tuple, list)


def to_dict(model: Image | Action | Region) -> dict[str, object]:
    """`model` as a JSON-ready dict (the API's field names; timestamps as ISO 8601 with their
    zone; lists for tuples), for storing an inventory: ``from_dict(Image, to_dict(image)) ==
    image``.

    >>> json.dumps(do_images.to_dict(image))
    """
    if not isinstance(cast(object, model), (Image, Action, Region)):
        raise TypeError(f"model must be an Image, Action or Region, not {type(model).__name__}")
    data: dict[str, object] = converter.unstructure(model)
    return data


def from_dict(cls: type[Model], data: Mapping[str, object]) -> Model:
    """A model from a dict such as `to_dict` makes (or one item of an API answer); unknown
    keys are ignored, a value of the wrong type raises ValueError naming its field."""
    if cls not in (Image, Action, Region):
        raise TypeError(f"cls must be Image, Action or Region, not {cls!r}")
    if not isinstance(cast(object, data), Mapping):
        raise TypeError(f"data must be a mapping, not {type(data).__name__}")
    try:
        return converter.structure(dict(data), cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ValueError(_describe(error, cls.__name__)) from None
