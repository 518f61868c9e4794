"""Request-body parsing and validation: JSON bytes in, checked values out (else 400/422)."""

from __future__ import annotations

from typing import Any, cast

import msgspec

from ._errors import bad_request, unprocessable
from ._vocab import DISTRIBUTIONS, REGION_SLUGS

_MISSING = object()
#: What decoding a client's body can raise: malformed JSON, invalid UTF-8 inside a string,
#: nesting deeper than the decoder recurses.
JSON_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; DO's 400 for anything else (empty, invalid, not an object)."""
    try:
        return msgspec.json.decode(raw, type=dict[str, Any])
    except JSON_ERRORS:  # a body that is not an object fails validation, a DecodeError too
        raise bad_request() from None


def _string(body: dict[str, Any], field: str, *, required: bool, blank: bool = True) -> str | None:
    value = body.get(field, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise unprocessable(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise unprocessable(f"{field} must be a string")
    if not blank and not value.strip():
        raise unprocessable(f"{field} cannot be blank")
    return value


def _required(body: dict[str, Any], field: str) -> str:
    value = _string(body, field, required=True, blank=False)
    if value is None:  # unreachable: _string raises for a missing required field
        raise unprocessable(f"{field} is required")
    return value


def _integer(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    if value is None:
        raise unprocessable(f"{field} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise unprocessable(f"{field} must be an integer")
    return value


def _region(body: dict[str, Any], *, required: bool) -> str | None:
    region = _string(body, "region", required=required)
    if region is not None and region not in REGION_SLUGS:
        raise unprocessable(f"region {region!r} is not a valid region slug")
    return region


def _distribution(body: dict[str, Any]) -> str | None:
    distribution = _string(body, "distribution", required=False)
    # Spec: "Any other value will be accepted but ignored, and `Unknown` will be used in its place."
    if distribution is not None and distribution not in DISTRIBUTIONS:
        return "Unknown"
    return distribution


def custom_image(body: dict[str, Any]) -> dict[str, Any]:
    """``POST /v2/images``: name, url, region required; distribution, description, tags optional."""
    name = _required(body, "name")
    url = _required(body, "url")
    if not url.lower().startswith(("http://", "https://")):
        raise unprocessable("url must be an http or https URL")
    region = _region(body, required=True)
    tags = _tags(body)
    return {
        "name": name,
        "url": url,
        "region": region,
        "distribution": _distribution(body) or "Unknown",
        "description": _string(body, "description", required=False) or "",
        "tags": tags,
    }


def _tags(body: dict[str, Any]) -> list[str]:
    tags: object = body.get("tags")
    if tags is None:
        return []
    items = cast("list[object]", tags) if isinstance(tags, list) else None
    if items is None or not all(isinstance(t, str) and t for t in items):
        raise unprocessable("tags must be an array of non-empty strings")
    return [str(t) for t in items]


def image_update(body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /v2/images/{id}``: the fields given among name, distribution, description."""
    changes: dict[str, Any] = {}
    name = _string(body, "name", required=False, blank=False)
    if name is not None:
        changes["name"] = name
    distribution = _distribution(body)
    if distribution is not None:
        changes["distribution"] = distribution
    description = _string(body, "description", required=False)
    if description is not None:
        changes["description"] = description
    return changes


def image_action(body: dict[str, Any]) -> tuple[str, str | None]:
    """``POST /v2/images/{id}/actions``: ``(type, region)``; transfer needs a region."""
    action_type = _string(body, "type", required=True)
    if action_type not in ("transfer", "convert"):
        raise unprocessable(f"type {action_type!r} is not a valid image action (convert, transfer)")
    region = _region(body, required=action_type == "transfer")
    return action_type, region


def transfer_create(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """``POST .../account_transfer``: exactly one of ``recipient_email``/``recipient_uuid``."""
    email = _string(body, "recipient_email", required=False, blank=False)
    uuid = _string(body, "recipient_uuid", required=False, blank=False)
    if (email is None) == (uuid is None):
        raise unprocessable("exactly one of recipient_email or recipient_uuid is required")
    return email, uuid


def transfer_accept(body: dict[str, Any]) -> tuple[int, str]:
    """``POST .../account_transfer/accept``: ``(transfer_id, recipient_uuid)``."""
    transfer_id = _integer(body, "transfer_id")
    return transfer_id, _required(body, "recipient_uuid")


def transfer_ref(body: dict[str, Any]) -> int:
    """``POST .../account_transfer/cancel|decline``: the ``transfer_id``."""
    return _integer(body, "transfer_id")
