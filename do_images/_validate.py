"""Argument checks that run before any request; each error names the argument."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from yarl import URL

K = TypeVar("K")
IMAGE_TYPES = ("distribution", "application")
MAX_PER_PAGE = 200
# Region slugs are short letters + digits ("nyc3", "sgp1"); new regions appear, so no fixed list.
_REGION = re.compile(r"[a-z]{2,4}[0-9]{1,2}")
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _type_name(value: Any) -> str:
    return type(value).__name__


def positive_int(name: str, value: Any) -> int:
    """An id or count: a real int (not bool), 1 or more."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {_type_name(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def image_id_or_slug(value: Any) -> int | str:
    """A positive id, or a public image's slug (no '/', which yarl would not quote)."""
    if isinstance(value, str):
        _encodable("image_id_or_slug", value)
        if not _SLUG.fullmatch(value):
            raise ValueError(
                f"image_id_or_slug must be a positive id or a slug such as 'ubuntu-24-04-x64',"
                f" got {value!r}"
            )
        return value
    return positive_int("image_id_or_slug", value)


def per_page(value: Any) -> int:
    number = positive_int("per_page", value)
    if number > MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {number}")
    return number


def optional_positive_int(name: str, value: Any) -> int | None:
    return None if value is None else positive_int(name, value)


def image_type(value: Any) -> str | None:
    if value is not None and value not in IMAGE_TYPES:
        raise ValueError(f"type must be 'distribution' or 'application', got {value!r}")
    return value  # type: ignore[no-any-return]


def optional_instance(name: str, value: object, kind: type[K], what: str) -> K | None:
    """None, or an instance of `kind` (checked at run time for callers without a type checker);
    `what` names the kind as users write it (``an aiohttp.ClientSession``)."""
    if value is None or isinstance(value, kind):
        return value
    raise TypeError(f"{name} must be {what}, not {_type_name(value)}")


def optional_bool(name: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None, not {_type_name(value)}")
    return value


def _encodable(name: str, value: str) -> str:
    """`value`, unless it holds a lone surrogate (how Python keeps a byte it could not decode,
    e.g. from the environment or a file name), which no request can carry."""
    try:
        value.encode()
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} is not valid Unicode text: it holds a lone surrogate at position"
            f" {error.start} (an undecodable byte?)"
        ) from None
    return value


def text(name: str, value: Any, *, required: bool = False) -> str | None:
    """A string argument; `required` ones may be neither None nor blank."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {_type_name(value)}")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    return _encodable(name, value)


def name(value: Any, *, required: bool) -> str | None:
    """An image name: optional on update, but never empty when given."""
    if value is None and not required:
        return None
    return text("name", value, required=True)


def import_url(value: Any) -> str:
    text("url", value, required=True)
    url = URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"url must be an http(s) URL with a host, got {value!r}")
    return value  # type: ignore[no-any-return]


def region(value: Any) -> str:
    if value is None:
        raise TypeError("region is required: a region slug such as 'nyc3'")
    text("region", value, required=True)
    if not _REGION.fullmatch(value):
        raise ValueError(f"region must be a region slug such as 'nyc3', got {value!r}")
    return value  # type: ignore[no-any-return]


def tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"tags must be a list of strings, not {_type_name(value)}")
    items: list[str] = []
    for item in value:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, str) or not item:
            raise TypeError(f"tags must hold non-empty strings, got {item!r}")
        items.append(_encodable("tags", item))
    return items


def non_negative_number(
    name: str, value: Any, *, allow_none: bool = True, allow_inf: bool = False
) -> float | None:
    """Seconds: a real number (not bool, never NaN), 0 or more; infinity only if `allow_inf`."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds, not {_type_name(value)}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    if math.isinf(value) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {value}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return float(value)


def positive_number(name: str, value: Any) -> float:
    """Seconds greater than 0 and finite."""
    number = non_negative_number(name, value, allow_none=False)
    if not number:
        raise ValueError(f"{name} must be greater than 0, got {value}")
    return number


def one_recipient(recipient_email: Any, recipient_uuid: Any) -> dict[str, str]:
    """Exactly one of the two recipients, as the request body."""
    given = {
        key: value
        for key, value in (("recipient_email", recipient_email), ("recipient_uuid", recipient_uuid))
        if value is not None
    }
    if len(given) != 1:
        raise ValueError(
            "give exactly one of recipient_email or recipient_uuid"
            f" (got {'both' if given else 'neither'})"
        )
    key, value = next(iter(given.items()))
    text(key, value, required=True)
    return given
