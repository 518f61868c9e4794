"""API data full of control characters never reaches a terminal raw: tables, text, JSON,
errors, logs and progress all show it escaped."""

from __future__ import annotations

import json
import re

import pytest

from do_images.testing import Emulator, Fault

from .conftest import Cli
from .helpers import TOKEN, on_terminal, one_error_line

# Sets the window title, clears the screen, splits rows and columns, reverses text, and a C1
# control sequence introducer: what a hostile or broken API answer could carry.
HOSTILE = "\x1b]0;pwned\x07\x1b[2Jevil\nname\twith\u202eevil\x9b31m\x00end"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
ESCAPED = r"\x1b]0;pwned\x07\x1b[2Jevil\x0aname\x09with\u202eevil\x9b31m\x00end"


def _hostile(emu: Emulator) -> str:
    fields = {"name": HOSTILE, "description": HOSTILE, "tags": [HOSTILE], "distribution": HOSTILE}
    return str(emu.add_image(kind="snapshot", **fields).id)


def _clean(text: str) -> None:
    assert not RAW.search(text), repr(text)


@pytest.mark.parametrize("fmt", ["table", "text", "json", "jsonl"])
async def test_hostile_names_are_escaped_in_every_format(emu: Emulator, cli: Cli, fmt: str) -> None:
    image_id = _hostile(emu)
    got, listed = (
        await cli("-o", fmt, "images", "get", image_id),
        await cli("-o", fmt, "images", "list", "--private", "--format", "ID,Name,Tags,Description"),
    )
    for result in (got, listed):
        assert result.code == 0, result.err
        _clean(result.out + result.err)
    if fmt in ("json", "jsonl"):  # JSON escapes them itself, and the data survives intact
        data = json.loads(got.out)
        assert (data["name"], data["tags"]) == (HOSTILE, [HOSTILE])
        return
    assert (ESCAPED if fmt == "text" else ESCAPED[:40]) in got.out  # tables cut long cells
    lines = listed.out.splitlines()
    assert len(lines) == 1 + 6  # header + five seeded images + the hostile one: no split rows
    if fmt == "text":
        assert {line.count("\t") for line in lines} == {3}  # no split columns
        assert f"{image_id}\t{ESCAPED}\t{ESCAPED}\t{ESCAPED}" in lines


async def test_hostile_api_error_message_is_escaped(emu: Emulator, cli: Cli) -> None:
    body = json.dumps({"id": "boom", "message": HOSTILE, "request_id": "r-1"}).encode()
    emu.inject(Fault(kind="status", status=500, body=body, content_type="application/json",
                     times=None))  # fmt: skip
    result = await cli("--max-retries", "0", "images", "get", "7")
    assert result.code == 3
    line = one_error_line(result)
    assert ESCAPED in line
    _clean(result.err)
    verbose = await cli("-v", "--max-retries", "0", "images", "list")
    assert verbose.code == 3
    assert "Traceback" in verbose.err
    _clean(verbose.err)
    assert TOKEN not in verbose.err


async def test_nothing_raw_reaches_a_terminal(emu: Emulator) -> None:
    image_id = _hostile(emu)
    emu.add_images(30, kind="snapshot", name=HOSTILE)
    base = ("--base-url", str(emu.url), "--token", TOKEN)
    for args in (
        ("images", "get", image_id),
        ("images", "list", "--private", "--per-page", "4"),  # progress lines between pages
        ("-o", "text", "images", "list", "--private", "--per-page", "4"),
        (
            "images",
            "update",
            "999999",
            "--name",
            HOSTILE.replace("\x00", ""),
        ),  # the argument echoed in an error
    ):
        screen = await on_terminal(*base, *args)
        assert screen.code in (0, 3), screen.shown
        # The only escape sequence on screen is the progress line's own "erase line".
        shown = screen.shown.replace("\r\x1b[K", "")
        _clean(shown.replace("\n", "").replace("\t", ""))
        assert r"\x1b]0;p" in shown or "image 999999 not found" in shown
