"""Writing results to stdout as they arrive: table, tab-separated text, JSON or JSON Lines.

Nothing is written before the first result, nothing is held beyond one page, and a listing
that fails part-way never leaves output that parses as a complete result.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import Any, TextIO, cast

import attrs

from ._layouts import Column, InContext, full
from ._progress import Progress
from ._text import cut, pad, safe, width

FORMATS = ("table", "text", "json", "jsonl")
MAX_CELL = 48  # a table column is never wider (longer cells are cut with …)
MIN_CELL = 6  # when fitting a terminal, columns shrink to this, no further
GAP = "  "
#: Ends stdout when a listing fails after printing items: not JSON, not a row, and says why.
INCOMPLETE = "!incomplete: the command failed after {count} results (see stderr)"

Batch = tuple[Sequence[object], "int | None"]  # results, and the total expected if known


def plain(value: object) -> Any:
    """JSON-ready data of a result (datetimes as ISO 8601), the shape the SDK decodes from;
    a result of one of several accounts has its ``context`` first."""
    if isinstance(value, InContext):
        return {"context": value.context, **plain(value.item)}
    if attrs.has(type(value)):
        return attrs.asdict(value, value_serializer=_serialize)  # type: ignore[arg-type]
    return value


def _serialize(_: object, __: object, value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return list(cast("tuple[object, ...]", value)) if isinstance(value, tuple) else value


def terminal_columns(stream: TextIO) -> int | None:
    """The width tables must fit: ``$COLUMNS`` if set, else the terminal's; None for a pipe."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if stream.isatty():
        try:
            return os.get_terminal_size(stream.fileno()).columns or None
        except OSError:
            return None
    return None


def fit(natural: list[int], floors: list[int], limit: int | None) -> list[int]:
    """Column widths within `limit` columns: the widest cuttable column gives way first."""
    widths = list(natural)
    if limit is None:
        return widths
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - limit
    while excess > 0:
        room = [(w - f, i) for i, (w, f) in enumerate(zip(widths, floors, strict=True)) if w > f]
        if not room:
            break  # even at their floors the columns do not fit: lines are cut instead
        _, widest = max((widths[i], i) for _, i in room)
        widths[widest] -= 1
        excess -= 1
    return widths


class Output:
    """Writes results to `stream` in one format, clearing the progress line before each write."""

    def __init__(
        self,
        fmt: str,
        stream: TextIO,
        progress: Progress,
        columns: Sequence[Column],
        *,
        header: bool = True,
    ) -> None:
        self.fmt = fmt
        self._stream = stream
        self._progress = progress
        self._columns = tuple(columns)
        self._header = header
        self._limit = terminal_columns(stream) if fmt == "table" else None
        self._widths: list[int] | None = None
        self._started = False

    def _write(self, text: str) -> None:
        self._progress.clear()
        self._stream.write(text)
        self._stream.flush()
        self._started = True

    # -- the four formats -----------------------------------------------------------------

    def _fit(self, cells: list[list[str]]) -> list[int]:
        """Widths from the first rows (and the header): later rows are cut to them, but for
        the last column's."""
        natural: list[int] = []
        floors: list[int] = []
        for i, column in enumerate(self._columns):
            w = max([width(column.name) if self._header else 1, *(width(r[i]) for r in cells)])
            if column.cuttable:
                w = min(w, MAX_CELL)
            natural.append(w)
            floors.append(min(w, MIN_CELL) if column.cuttable else w)
        return fit(natural, floors, self._limit)

    def _table(self, rows: Sequence[object]) -> str:
        cells = [[safe(c.cell(row)) for c in self._columns] for row in rows]
        if self._widths is None:
            self._widths = self._fit(cells)
            if self._header:
                cells.insert(0, [c.name for c in self._columns])
        *widths, last = self._widths
        bound = MAX_CELL if self._columns[-1].cuttable else None
        lines: list[str] = []
        for *line, end in cells:
            padded = [pad(cut(cell, w), w) for cell, w in zip(line, widths, strict=True)]
            # Nothing follows the last column: a later, longer cell (an error's reason) runs
            # on rather than being cut to the first rows' width.
            padded.append(end if bound is None else cut(end, max(last, bound)))
            text = GAP.join(padded).rstrip()
            lines.append(text if self._limit is None else cut(text, self._limit))
        return "".join(line + "\n" for line in lines)

    def _text(self, rows: Sequence[object]) -> str:
        lines = [[safe(full(c.value(row))) for c in self._columns] for row in rows]
        if self._header and not self._started:
            lines.insert(0, [c.name for c in self._columns])
        return "".join("\t".join(line) + "\n" for line in lines)

    def _json_items(self, rows: Sequence[object]) -> str:
        text = "[" if not self._started else ""
        for row in rows:
            item = json.dumps(plain(row), indent=2).replace("\n", "\n  ")
            text += ("\n  " if text.endswith("[") else ",\n  ") + item
        return text

    def _rows(self, rows: Sequence[object]) -> None:
        if not rows:
            return
        if self.fmt == "table":
            self._write(self._table(rows))
        elif self.fmt == "text":
            self._write(self._text(rows))
        elif self.fmt == "jsonl":
            self._write("".join(json.dumps(plain(row)) + "\n" for row in rows))
        else:
            self._write(self._json_items(rows))

    # -- what commands call ---------------------------------------------------------------

    def one(self, value: object) -> None:
        """A single result: a one-row table or text line, or one JSON object."""
        if self.fmt == "json":
            self._write(json.dumps(plain(value), indent=2) + "\n")
        else:
            self._rows([value])

    def all(self, rows: Sequence[object]) -> None:
        """A complete list of results at once (a table sized from every row)."""
        if self.fmt == "json":
            self._write(json.dumps([plain(row) for row in rows], indent=2) + "\n")
        elif rows:
            self._rows(rows)
        elif self._header and self.fmt in ("table", "text"):
            self._rows_header_only()

    async def stream(self, batches: AsyncGenerator[Batch, None], noun: str) -> int:
        """Every result of `batches` as it arrives (progress: ``noun: count/total``); the count.

        A failure part-way leaves a JSON array unclosed and ends the output with INCOMPLETE.
        """
        count = 0
        try:
            # Closed here, in this task, whatever happens: the walk's requests stop at once.
            async with aclosing(batches):
                async for rows, total in batches:
                    self._rows(rows)
                    count += len(rows)
                    shown = "" if total is None else f"/{total}"
                    self._progress.show(f"{noun}: {count}{shown}")
        except BaseException as error:
            if self._started and not isinstance(error, BrokenPipeError):
                self._write(("\n" if self.fmt == "json" else "") + INCOMPLETE.format(count=count))
                self._write("\n")
            raise
        finally:
            self._progress.clear()
        if self.fmt == "json":
            self._write("\n]\n" if self._started else "[]\n")
        elif not self._started and self._header and self.fmt in ("table", "text"):
            self._rows_header_only()
        return count

    def _rows_header_only(self) -> None:
        headers = [c.name for c in self._columns]
        self._write((GAP if self.fmt == "table" else "\t").join(headers) + "\n")
