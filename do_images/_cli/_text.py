"""Terminal-safe text: one escaping function for everything shown, and cell widths in columns.

API data can hold anything; every string the CLI shows on a terminal passes through `safe`.
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"
# Line and paragraph separators and the bidirectional marks, overrides and isolates can reorder
# or split what a terminal shows, as control characters can; they are escaped too. (The same set
# as the SDK's `printable`, which this module may not import: the CLI uses only the public SDK.)
_INVISIBLE = {
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _unsafe(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in _INVISIBLE


def safe(text: str) -> str:
    """`text` with every control character written as a visible escape (ESC -> ``\\x1b``)."""
    if text.isprintable():  # the common case, checked in C
        return text
    return "".join(_escape(c) if _unsafe(c) else c for c in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def width(text: str) -> int:
    """Terminal columns `text` takes: East Asian wide and full-width characters count two."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def cut(text: str, limit: int) -> str:
    """`text` if it fits in `limit` columns, else its start and ``…`` within `limit` columns."""
    if width(text) <= limit:
        return text
    if limit <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for char in text:
        w = _char_width(char)
        if used + w > limit - 1:
            break
        kept.append(char)
        used += w
    return "".join(kept) + ELLIPSIS


def pad(text: str, columns: int) -> str:
    """`text` followed by spaces up to `columns` terminal columns."""
    return text + " " * max(0, columns - width(text))
