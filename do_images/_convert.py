"""The one cattrs converter, its hooks, and the single decode edge of the SDK.

Every JSON value becomes a model here or fails as ResponseDecodeError naming the field.
Hooks are strict about JSON types (no silent ``str(dict)`` or ``int("7")``) and lenient
about what may be missing. Models decode through a plain function generated once per model
(the fast path); anything it does not accept is decoded again by the detailed cattrs
converter, which is the authority: it either agrees or names the index and field that failed.
"""

from __future__ import annotations

import operator
import re
import sys
import typing
from collections.abc import Callable
from datetime import datetime, timezone
from types import UnionType
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
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


if sys.version_info >= (3, 11):
    _fromisoformat = datetime.fromisoformat
else:
    _FRACTION = re.compile(r"\.(\d+)")

    def _fromisoformat(value: str) -> datetime:
        # 3.10 reads neither "Z" nor fractions other than 3 or 6 digits ("…:33.0Z").
        if value.endswith("Z"):
            value = value[:-1] + "+00:00"
        value = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value, count=1)
        return datetime.fromisoformat(value)


def _datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 timestamp, got {value!r:.40}")
    parsed = _fromisoformat(value)
    # DigitalOcean's timestamps are UTC; a naive one is read as UTC so every value is aware.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _region_from_slug(value: str) -> Region:
    # Older answers (and python-digitalocean's fixtures) give the region as a bare slug.
    return Region(slug=value)


# Models that the API sometimes gives as a bare string: how to build them from it.
_FROM_STRING: dict[type, Callable[[str], Any]] = {Region: _region_from_slug}


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
        return _region_from_slug(value) if isinstance(value, str) else structure_region(value, cls)

    conv.register_structure_hook(Region, region)
    return conv


converter = _build()


# --- The fast path -------------------------------------------------------------------------
# One generated function per model: reads each known key once, checks its JSON type inline
# (`type(v) is int` keeps bools out, as the hooks above do) and calls the attrs class once.
# It may refuse more than the converter (it raises on any doubt), never accept more.

# Inline checks per value type; `{v}` is the local holding the value, known not to be None.
_CHECKS: dict[object, str] = {
    str: "if type({v}) is not str: raise _Refused",
    int: "if type({v}) is not int: raise _Refused",
    bool: "if type({v}) is not bool: raise _Refused",
    float: "if type({v}) is not float: {v} = _float({v}, None)",
    tuple[str, ...]: (
        "if type({v}) is not list: raise _Refused\n"
        "_join({v})  # raises TypeError unless every element is a string\n"
        "{v} = tuple({v})"
    ),
    datetime: (
        "if type({v}) is not str: raise _Refused\n"
        "{v} = _fromisoformat({v})\n"
        "if {v}.tzinfo is None: {v} = {v}.replace(tzinfo=_utc)"
    ),
}


class _Refused(Exception):
    """The fast path does not vouch for this value; the detailed converter decides."""


def _optional_inner(hint: Any) -> Any:
    args = typing.get_args(hint)
    if (typing.get_origin(hint) in (typing.Union, UnionType)) and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        return rest[0] if len(rest) == 1 else None
    return None


def _generate(cls: type[Any], namespace: dict[str, Any]) -> Callable[[Any], Any]:
    """The fast structure function of attrs class `cls` (its nested models generated too)."""
    hints = typing.get_type_hints(cls)
    fields = [field for field in attrs.fields(cls) if field.init]
    names = [field.name for field in fields]
    values = [f"v{index}" for index in range(len(fields))]
    get = f"_get_{cls.__name__}"
    namespace[get] = operator.itemgetter(*names)
    # One C call fetches every field of a complete object; a missing key takes the `.get` way.
    lines = [
        f"def structure_{cls.__name__}(o):",
        "    try:",
        f"        {', '.join(values)}, = {get}(o)"
        if len(names) > 1
        else f"        {values[0]} = {get}(o)",
        "    except KeyError:",
        *(f"        {v} = o.get({name!r})" for v, name in zip(values, names, strict=True)),
    ]
    for v, field in zip(values, fields, strict=True):
        inner = _optional_inner(hints[field.name])
        if field.default is not None or field.kw_only or inner is None:
            raise TypeError(f"{cls.__name__}.{field.name}: the fast path wants `X | None = None`")
        if inner in _CHECKS:
            check = _CHECKS[inner].format(v=v)
        elif attrs.has(inner):
            nested = f"_structure_{inner.__name__}"
            if nested not in namespace:
                namespace[nested] = _generate(inner, namespace)
            check = f"{v} = {nested}({v})"
            if inner in _FROM_STRING:
                namespace[f"_{inner.__name__}_from_string"] = _FROM_STRING[inner]
                check = (
                    f"{v} = (_{inner.__name__}_from_string if type({v}) is str else {nested})({v})"
                )
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no fast check for {inner!r}")
        lines.append(f"    if {v} is not None:")
        lines.extend(f"        {line}" for line in check.splitlines())
    # Positional: attrs' __init__ takes init fields in declaration order (kw_only refused above).
    lines.append(f"    return _cls_{cls.__name__}({', '.join(values)})")
    namespace[f"_cls_{cls.__name__}"] = cls
    # The technique attrs and cattrs use; the file name shows up in tracebacks and profiles.
    code = compile("\n".join(lines), f"<do_images fast structure {cls.__name__}>", "exec")
    exec(code, namespace)
    function: Callable[[Any], Any] = namespace.pop(f"structure_{cls.__name__}")
    return function


def _fast_functions(*models: type[Any]) -> dict[type[Any], Callable[[Any], Any]]:
    namespace: dict[str, Any] = {
        "_Refused": _Refused,
        "_float": _float,
        "_join": "".join,
        "_fromisoformat": _fromisoformat,
        "_utc": timezone.utc,
    }
    return {model: _generate(model, namespace) for model in models}


_FAST = _fast_functions(Image, Action, Region)


# --- The decode edge -----------------------------------------------------------------------


def _describe(error: Exception, where: str) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        # transform_error gives "<message> @ <path>"; we want "<path>: <message>".
        lines = cattrs.transform_error(error, path=where, format_exception=lambda e, _: str(e))
        return "; ".join("{1}: {0}".format(*line.rsplit(" @ ", 1)) for line in lines)
    return f"{where}: {error}"


def _detailed(data: Any, cls: type[T], where: str, status: int, body: bytes) -> T:
    if not isinstance(data, dict):
        raise ResponseDecodeError(
            f"{where}: expected an object, got {type(data).__name__}", status=status, body=body
        )
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ResponseDecodeError(_describe(error, where), status=status, body=body) from None


def structure(data: Any, cls: type[T], *, where: str, status: int, body: bytes) -> T:
    """One model from a JSON value; `where` names it in the error (e.g. ``"image"``)."""
    fast = _FAST.get(cls)
    if fast is not None:
        try:
            return typing.cast(T, fast(data))
        except Exception:  # the detailed path decides and explains
            pass
    return _detailed(data, cls, where, status, body)


def _fields(cls: type[Any]) -> set[str]:
    return {field.name for field in attrs.fields(cls)}


def from_envelope(response: Response, key: str, cls: type[T], *, bare_ok: bool = False) -> T:
    """The model under `key` of an answer (``{"image": {...}}``); `bare_ok` accepts the object
    itself, as the official spec's action responses (wrongly) describe them."""
    data = response.data
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and bare_ok and isinstance(data, dict) and data.keys() & _fields(cls):
        value = data
    return structure(value, cls, where=key, status=response.status, body=response.body)


def structure_list(data: Any, cls: type[T], *, where: str, status: int, body: bytes) -> list[T]:
    """A list of models; a bad item's error says which index and field failed."""
    if not isinstance(data, list):
        raise ResponseDecodeError(
            f"{where}: expected a list, got {type(data).__name__}", status=status, body=body
        )
    fast = _FAST.get(cls)
    if fast is not None:
        try:
            return list(map(fast, data))
        except Exception:  # the detailed path decides and explains
            pass
    return [
        _detailed(item, cls, f"{where}[{index}]", status, body) for index, item in enumerate(data)
    ]
