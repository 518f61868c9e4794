"""Rendering results on stdout: aligned tables, JSON (one document), or JSON Lines (streamed)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import Any, TextIO

import attrs

from do_images import Action, Image, Paginator, RateLimit

from ._progress import Progress

Column = tuple[str, Callable[[Any], str]]
MAX_LISTED_REGIONS = 3


def plain(value: object) -> Any:
    """JSON-ready data of a model (datetimes as ISO 8601), the shape the SDK decodes from."""
    if attrs.has(type(value)):
        return attrs.asdict(value, value_serializer=_serialize)  # type: ignore[arg-type]
    return value


def _serialize(_: object, __: object, value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return list(value) if isinstance(value, tuple) else value


def _text(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _regions(regions: Sequence[str] | None) -> str:
    if not regions:
        return "-"
    if len(regions) <= MAX_LISTED_REGIONS:
        return ",".join(regions)
    return f"{len(regions)} regions"


def _item(key: str) -> Callable[[Any], str]:
    return lambda row: _text(row[key])


def _action_region(action: Action) -> str:
    return _text(action.region_slug or (action.region.slug if action.region else None))


IMAGE_COLUMNS: list[Column] = [
    ("ID", lambda i: _text(i.id)),
    ("SLUG", lambda i: _text(i.slug)),
    ("NAME", lambda i: _text(i.name)),
    ("TYPE", lambda i: _text(i.type)),
    ("DISTRIBUTION", lambda i: _text(i.distribution)),
    ("REGIONS", lambda i: _regions(i.regions)),
    ("CREATED", lambda i: _text(i.created_at)),
    ("STATUS", lambda i: _text(i.status)),
]
ACTION_COLUMNS: list[Column] = [
    ("ID", lambda a: _text(a.id)),
    ("TYPE", lambda a: _text(a.type)),
    ("STATUS", lambda a: _text(a.status)),
    ("STARTED", lambda a: _text(a.started_at)),
    ("COMPLETED", lambda a: _text(a.completed_at)),
    ("REGION", _action_region),
]
RATE_LIMIT_COLUMNS: list[Column] = [
    ("LIMIT", lambda r: _text(r.limit)),
    ("REMAINING", lambda r: _text(r.remaining)),
    ("RESET", lambda r: _text(r.reset_at and r.reset_at.isoformat())),
]


def _columns(value: object) -> list[Column]:
    if isinstance(value, Image):
        return IMAGE_COLUMNS
    if isinstance(value, Action):
        return ACTION_COLUMNS
    if isinstance(value, RateLimit):
        return RATE_LIMIT_COLUMNS
    raise TypeError(f"no table layout for {type(value).__name__}")


class Output:
    """Writes results to `stream` in one of the formats ``table``, ``json``, ``jsonl``."""

    def __init__(self, fmt: str, stream: TextIO, progress: Progress) -> None:
        self.fmt = fmt
        self._stream = stream
        self._progress = progress

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def table(self, columns: Sequence[Column], rows: Sequence[object]) -> None:
        """An aligned table with a header row (the header alone when there are no rows)."""
        cells = [[header for header, _ in columns]]
        cells += [[cell(row) for _, cell in columns] for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        lines = (
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in cells
        )
        self._write("".join(line + "\n" for line in lines))

    def one(self, value: object) -> None:
        """A single result: a one-row table, or one JSON object."""
        if self.fmt == "table":
            self.table(_columns(value), [value])
        else:
            self._write(json.dumps(plain(value), indent=2 if self.fmt == "json" else None) + "\n")

    def fields(self, data: dict[str, Any]) -> None:
        """A small result that is not a model (e.g. a transfer id)."""
        if self.fmt == "table":
            self.table([(key.upper(), _item(key)) for key in data], [data])
        else:
            self._write(json.dumps(data, indent=2 if self.fmt == "json" else None) + "\n")

    def done(self, message: str) -> None:
        """Confirmation of a call that returns nothing: a line in table mode, silence otherwise."""
        if self.fmt == "table":
            self._write(message + "\n")

    async def listing(
        self, paginator: Paginator[Any], columns: Sequence[Column], noun: str
    ) -> None:
        """Every item of a listing; JSON and JSON Lines stream as the pages arrive."""
        rows: list[object] = []
        count = 0
        if self.fmt == "json":
            self._write("[")
        try:
            async with aclosing(paginator.pages()) as pages:
                async for page in pages:
                    for item in page.items:
                        if self.fmt == "table":
                            rows.append(item)
                        elif self.fmt == "jsonl":
                            self._write(json.dumps(plain(item)) + "\n")
                        else:
                            text = textwrap.indent(json.dumps(plain(item), indent=2), "  ")
                            self._write(("\n" if count == 0 else ",\n") + text)
                        count += 1
                    total = f"/{page.total}" if page.total is not None else ""
                    self._progress.show(f"listing {noun}: {count}{total}")
        finally:
            self._progress.clear()
        if self.fmt == "json":
            self._write("\n]\n" if count else "]\n")
        elif self.fmt == "table":
            self.table(columns, rows)
