"""Tables: terminal width, wide characters, cut cells, columns by --format, -o text."""

from __future__ import annotations

import unicodedata

from do_images.testing import Emulator

from .conftest import Cli
from .helpers import TOKEN, on_terminal


def cells(text: str) -> int:
    """Terminal columns of `text`: East Asian wide and full-width characters take two,
    combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def starts(line: str, needle: str) -> int:
    """The terminal column where `needle` starts in `line`."""
    return cells(line[: line.index(needle)])


async def test_tables_fit_the_terminal(emu: Emulator) -> None:
    emu.add_image(kind="snapshot", name="a-very-long-snapshot-name-" * 4, description="x" * 300)
    base = ("--base-url", str(emu.url), "--token", TOKEN, "images", "list")
    for columns in (80, 100, 64):
        screen = await on_terminal(*base, "--private", columns=columns)
        assert screen.code == 0, screen.shown
        lines = [line for line in screen.shown.split("\n") if line.startswith(("ID", "16"))]
        assert len(lines) == 7
        assert max(cells(line) for line in lines) <= columns
        assert any(cells(line) > columns - 10 for line in lines)  # the room is used
        assert "…" in "".join(lines)  # the long name is cut, visibly
    wide = await on_terminal(*base, "--private", "--format", "id,description", columns=200)
    assert "x" * 40 in wide.shown  # a wide terminal shows more, up to the cell limit
    assert "x" * 60 not in wide.shown


async def test_pipes_are_not_cut_to_a_terminal_but_cells_are_bounded(
    emu: Emulator, cli: Cli
) -> None:
    emu.add_image(kind="snapshot", name="n" * 100)
    result = await cli("images", "list", "--private")
    assert result.code == 0
    assert any(cells(line) > 80 for line in result.out.splitlines())
    assert "n" * 47 + "…" in result.out  # a cell holds at most 48 columns
    assert "n" * 100 in (await cli("-o", "text", "images", "list", "--private")).out


async def test_wide_characters_keep_columns_aligned(emu: Emulator, cli: Cli) -> None:
    for name in (
        "日本語のスナップショット",
        "abc",
        "한국어 이미지",
        "\uff46\uff55\uff4c\uff4c\uff0d\uff57\uff49\uff44\uff54\uff48",  # full-width
        "e\u0301clair",
    ):
        emu.add_image(kind="snapshot", name=name, regions=["fra1"])
    result = await cli("images", "list", "--private", "--format", "id,name,regions,status")
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    regions = starts(header, "REGIONS")
    assert {starts(row, "fra1") for row in rows if "fra1" in row} == {regions}
    assert {starts(row, "available") for row in rows} == {starts(header, "STATUS")}
    assert len([row for row in rows if "fra1" in row]) == 6  # with the seeded web-01 2025-01-08


async def test_widths_come_from_the_first_page(cli: Cli) -> None:
    # Page 1 holds centos-stream-9-x64 and debian-11-x64; centos-stream-10-x64 comes later.
    result = await cli("images", "list", "--per-page", "2", "--type", "distribution",
                       "--format", "SLUG,ID")  # fmt: skip
    assert result.code == 0
    lines = result.out.splitlines()
    id_column = {starts(line, "16") for line in lines[1:]}
    assert len(id_column) == 1  # later rows cut to fit...
    assert any("…" in line for line in lines[3:])
    last = await cli("images", "list", "--per-page", "2", "--type", "distribution",
                     "--format", "ID,SLUG")  # fmt: skip
    assert "centos-stream-10-x64" in last.out  # ...but the last column runs on


async def test_a_failed_deletes_reason_is_shown_in_full(emu: Emulator, cli: Cli) -> None:
    # It used to show "999999999  failed  imag…": widths from the first row, "-" as the reason.
    snapshot = emu.add_image(kind="snapshot").id
    result = await cli("images", "delete", str(snapshot), "999999999", "--force")
    assert result.code == 3
    assert result.out.splitlines()[-1].split() == [
        "999999999",
        "failed",
        "image",
        "999999999",
        "not",
        "found",
    ]
    screen = await on_terminal("--api-url", str(emu.url), "-t", TOKEN, "images", "delete",
                               str(emu.add_image(kind="snapshot").id), "999999998", "--force",
                               columns=60)  # fmt: skip
    assert "image 999999998 not found" in screen.shown


async def test_format_picks_columns_in_any_case(emu: Emulator, cli: Cli) -> None:
    result = await cli("images", "get", "ubuntu-24-04-x64", "--format", "id,Slug,MinDisk,min_disk")
    assert result.code == 0, result.err
    header, row = result.out.splitlines()
    assert header.split() == ["ID", "SLUG", "MIN_DISK", "MIN_DISK"]
    assert row.split()[1:] == ["ubuntu-24-04-x64", "15", "15"]
    text = await cli("-o", "text", "--no-header", "images", "get", "ubuntu-24-04-x64",
                     "--format", "slug,created,regions,public")  # fmt: skip
    assert text.out.split("\t") == [
        "ubuntu-24-04-x64", "2024-09-24T19:02:35+00:00",
        "nyc1,nyc3,sfo2,sfo3,ams3,sgp1,lon1,fra1,tor1,blr1,syd1", "true\n",
    ]  # fmt: skip
    actions = await cli("actions", "list", "160000029", "--format", "id,resource_id")
    assert actions.out.split() == ["ID", "RESOURCE_ID"]  # no actions yet: the header alone
    emu.clear_requests()
    bad = await cli("images", "list", "--format", "id,bogus")
    assert bad.code == 2
    assert "--format: no column 'bogus'; choose from ID, SLUG" in bad.err
    assert emu.requests == []  # refused before sending anything


async def test_text_output_is_tab_separated_with_a_header(cli: Cli) -> None:
    result = await cli("-o", "text", "images", "list", "--type", "application")
    assert result.code == 0
    header, *rows = result.out.splitlines()
    assert header.split("\t") == ["ID", "SLUG", "NAME", "TYPE", "DISTRIBUTION", "REGIONS",
                                  "CREATED", "STATUS"]  # fmt: skip
    assert len(rows) == 10
    assert all(len(row.split("\t")) == 8 for row in rows)
    assert any("\tDocker 25.0.3 on Ubuntu 22.04\t" in row for row in rows)
    empty = await cli("-o", "text", "--no-header", "images", "list", "--tag", "nothing-here")
    assert (empty.code, empty.out) == (0, "")
