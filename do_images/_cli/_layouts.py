"""What each kind of result looks like: its columns (for tables, ``-o text`` and ``--format``).

Results the API has no model for (a deletion, a prune decision, a transfer) are small attrs
classes here, so every command prints through the same four output formats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import attrs

MAX_LISTED = 3  # more regions or tags than this show as a count in tables


@attrs.frozen
class Deletion:
    """The outcome of deleting one image (``images delete`` knows only its id)."""

    id: int
    result: str  # "deleted", "would delete" or "failed"
    error: str | None = None


@attrs.frozen
class Pruned(Deletion):
    """The outcome of pruning one image: its name and date too, from the listing."""

    name: str | None = None
    created_at: datetime | None = None


@attrs.frozen
class AuthContext:
    """One auth context of doctl's config file (never its token)."""

    name: str
    current: bool
    has_token: bool


@attrs.frozen
class InContext:
    """A result of one of several accounts: the context it came from, and the result."""

    context: str
    item: object


@attrs.frozen
class TransferOutcome:
    """What happened to an account transfer (``transfer_id`` 0: accepted at once)."""

    image_id: int
    transfer_id: int
    result: str  # "offered", "accepted", "cancelled", "declined"


def short(value: object, noun: str = "items") -> str:
    """A value as a table shows it: ``-`` for nothing, dates to the minute, long lists counted."""
    if value is None or value == "" or value == ():
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (tuple, list)):
        items = cast("Sequence[object]", value)
        return ",".join(map(str, items)) if len(items) <= MAX_LISTED else f"{len(items)} {noun}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def full(value: object) -> str:
    """A value as ``-o text`` writes it: complete, ISO 8601 dates, lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, cast("Sequence[object]", value)))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@attrs.frozen
class Column:
    """One column: header, how to get its value, and whether a table may cut it."""

    name: str
    value: Callable[[Any], object]
    cuttable: bool = True  # ids are never cut: a cut id is useless
    noun: str = "items"  # what a table counts when a list is too long to show

    def cell(self, item: object) -> str:
        """The value as a table shows it (not yet escaped)."""
        return short(self.value(item), self.noun)

    def key(self) -> str:
        return _key(self.name)


def _key(name: str) -> str:
    # --format accepts doctl's CamelCase (MinDisk) as well as MIN_DISK, min-disk.
    return name.lower().replace("_", "").replace("-", "")


@attrs.frozen
class Layout:
    """Every column a result kind offers, and the ones shown by default."""

    columns: tuple[Column, ...]
    default: tuple[str, ...]

    def pick(self, names: str | None) -> tuple[Column, ...]:
        """The columns `names` (``"ID,Name"``, any case) selects; the default ones for None."""
        wanted = self.default if names is None else [n for n in names.split(",") if n.strip()]
        by_key = {column.key(): column for column in self.columns}
        picked: list[Column] = []
        for name in wanted:
            column = by_key.get(_key(name.strip()))
            if column is None:
                choices = ", ".join(c.name for c in self.columns)
                raise ValueError(f"--format: no column {name.strip()!r}; choose from {choices}")
            picked.append(column)
        if not picked:
            raise ValueError("--format: name at least one column")
        return tuple(picked)


def _layout(columns: Sequence[Column], *default: str) -> Layout:
    return Layout(tuple(columns), default or tuple(c.name for c in columns))


def _attr(name: str) -> Callable[[Any], object]:
    return lambda item: getattr(item, name)


def _region(action: Any) -> object:
    return action.region_slug or (action.region.slug if action.region else None)


IMAGE = _layout(
    [
        Column("ID", _attr("id"), cuttable=False),
        Column("SLUG", _attr("slug")),
        Column("NAME", _attr("name")),
        Column("TYPE", _attr("type")),
        Column("DISTRIBUTION", _attr("distribution")),
        Column("REGIONS", _attr("regions"), noun="regions"),
        Column("CREATED", _attr("created_at")),
        Column("STATUS", _attr("status")),
        Column("PUBLIC", _attr("public")),
        Column("MIN_DISK", _attr("min_disk_size")),
        Column("SIZE_GB", _attr("size_gigabytes")),
        Column("TAGS", _attr("tags"), noun="tags"),
        Column("DESCRIPTION", _attr("description")),
        Column("ERROR", _attr("error_message")),
    ],
    "ID", "SLUG", "NAME", "TYPE", "DISTRIBUTION", "REGIONS", "CREATED", "STATUS",
)  # fmt: skip
ACTION = _layout(
    [
        Column("ID", _attr("id"), cuttable=False),
        Column("TYPE", _attr("type")),
        Column("STATUS", _attr("status")),
        Column("STARTED", _attr("started_at")),
        Column("COMPLETED", _attr("completed_at")),
        Column("REGION", _region),
        Column("RESOURCE_ID", _attr("resource_id"), cuttable=False),
    ],
    "ID", "TYPE", "STATUS", "STARTED", "COMPLETED", "REGION",
)  # fmt: skip
RATE_LIMIT = _layout(
    [
        Column("LIMIT", _attr("limit")),
        Column("REMAINING", _attr("remaining")),
        Column("RESET", lambda r: r.reset_at and r.reset_at.isoformat()),
    ]
)
DELETION = _layout(
    [
        Column("ID", _attr("id"), cuttable=False),
        Column("RESULT", _attr("result")),
        Column("ERROR", _attr("error")),
    ]
)
PRUNE = _layout(
    [
        Column("ID", _attr("id"), cuttable=False),
        Column("NAME", _attr("name")),
        Column("CREATED", _attr("created_at")),
        Column("RESULT", _attr("result")),
        Column("ERROR", _attr("error")),
    ]
)
TRANSFER = _layout(
    [
        Column("IMAGE_ID", _attr("image_id"), cuttable=False),
        Column("TRANSFER_ID", _attr("transfer_id"), cuttable=False),
        Column("RESULT", _attr("result")),
    ]
)
AUTH = _layout(
    [
        Column("NAME", _attr("name"), cuttable=False),
        Column("CURRENT", _attr("current")),
        Column("TOKEN", lambda c: "set" if c.has_token else "none"),
    ]
)


def in_context(layout: Layout) -> Layout:
    """`layout` for results of several accounts: a CONTEXT column first, then the result's."""
    columns = [Column("CONTEXT", _attr("context"))]
    for column in layout.columns:
        columns.append(attrs.evolve(column, value=_inner(column.value)))
    return Layout(tuple(columns), ("CONTEXT", *layout.default))


def _inner(value: Callable[[Any], object]) -> Callable[[Any], object]:
    return lambda row: value(row.item)
