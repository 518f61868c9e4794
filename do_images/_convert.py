"""The one cattrs converter, its hooks, and the single decode edge of the SDK.

Every JSON value becomes a model here or fails as ResponseDecodeError naming the field.
Hooks are strict about JSON types (no silent ``str(dict)`` or ``int("7")``) and lenient
about what may be missing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import cattrs

from ._errors import ResponseDecodeError
from ._models import Action, Image, Region

if TYPE_CHECKING:
    from ._transport import Response

T = TypeVar("T")


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
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise TypeError(f"expected a list of strings, got {value!r:.60}")


def _datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 timestamp, got {value!r:.40}")
    if sys.version_info < (3, 11) and value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
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
    structure_region = conv.get_structure_hook(Region)

    def region(value: Any, cls: Any) -> Region:
        # Older answers (and python-digitalocean's fixtures) give the region as a bare slug.
        return Region(slug=value) if isinstance(value, str) else structure_region(value, cls)

    conv.register_structure_hook(Region, region)
    conv.register_unstructure_hook(datetime, lambda value: value.isoformat())
    return conv


converter = _build()


def _describe(error: Exception, where: str) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        # transform_error gives "<message> @ <path>"; we want "<path>: <message>".
        lines = cattrs.transform_error(error, path=where, format_exception=lambda e, _: str(e))
        return "; ".join("{1}: {0}".format(*line.rsplit(" @ ", 1)) for line in lines)
    return f"{where}: {error}"


def structure(data: Any, cls: type[T], *, where: str, status: int, body: bytes) -> T:
    """One model from a JSON value; `where` names it in the error (e.g. ``"image"``)."""
    if not isinstance(data, dict):
        raise ResponseDecodeError(
            f"{where}: expected an object, got {type(data).__name__}", status=status, body=body
        )
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ResponseDecodeError(_describe(error, where), status=status, body=body) from None


def from_envelope(response: Response, key: str, cls: type[T], *, bare_ok: bool = False) -> T:
    """The model under `key` of an answer (``{"image": {...}}``); `bare_ok` accepts the object
    itself, as the official spec's action responses (wrongly) describe them."""
    data = response.data
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and bare_ok and isinstance(data, dict) and "id" in data:
        value = data
    return structure(value, cls, where=key, status=response.status, body=response.body)


def structure_list(data: Any, cls: type[T], *, where: str, status: int, body: bytes) -> list[T]:
    """A list of models; a bad item's error says which index and field failed."""
    if not isinstance(data, list):
        raise ResponseDecodeError(
            f"{where}: expected a list, got {type(data).__name__}", status=status, body=body
        )
    return [
        structure(item, cls, where=f"{where}[{index}]", status=status, body=body)
        for index, item in enumerate(data)
    ]


def unstructure(value: Image | Action | Region | Any) -> Any:
    """Plain JSON-ready data (datetimes as ISO 8601 strings), e.g. for the CLI's JSON output."""
    return converter.unstructure(value)
