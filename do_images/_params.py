"""Request parameters and JSON bodies from keyword values: the one place that drops the unset."""

from __future__ import annotations

from typing import Any


def present(**values: Any) -> dict[str, Any]:
    """The given values without the None ones (optional JSON fields and parameters)."""
    return {key: value for key, value in values.items() if value is not None}


def query(**values: str | int | bool | None) -> dict[str, str | int]:
    """Query parameters without the None ones; booleans as "true"/"false" (yarl rejects bools)."""
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else value
        for key, value in present(**values).items()
    }
