"""The CLI's pure decisions as table tests: escaping, widths, cutting, fitting, ages, pruning."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from do_images import Image
from do_images._cli._output import fit
from do_images._cli._prune import Prune, age
from do_images._cli._text import cut, safe, width


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("日本語", "日本語"),
        ("a\x1b[2Jb", r"a\x1b[2Jb"),
        ("bell\x07", r"bell\x07"),
        ("line\nbreak\ttab\rcr", r"line\x0abreak\x09tab\x0dcr"),
        ("del\x7f c1\x9b", r"del\x7f c1\x9b"),
        ("rtl\u202eoverride\u2066iso\u2028sep", r"rtl\u202eoverride\u2066iso\u2028sep"),
        ("zwj\u200d emoji kept", "zwj\u200d emoji kept"),  # joins emoji; moves nothing
        ("back\\slash", "back\\slash"),
    ],
)
def test_safe(raw: str, shown: str) -> None:
    assert safe(raw) == shown


@pytest.mark.parametrize(
    ("text", "cells"),
    [("abc", 3), ("日本", 4), ("ｆｕｌｌ", 8), ("e\u0301", 1), ("한국어 ok", 9), ("", 0)],  # noqa: RUF001
)
def test_width(text: str, cells: int) -> None:
    assert width(text) == cells


@pytest.mark.parametrize(
    ("text", "limit", "out"),
    [
        ("abcdef", 6, "abcdef"),
        ("abcdef", 5, "abcd…"),
        ("abcdef", 1, "…"),
        ("abcdef", 0, ""),
        ("日本語です", 6, "日本…"),  # never half a wide character
        ("日本語です", 5, "日本…"),
    ],
)
def test_cut(text: str, limit: int, out: str) -> None:
    assert cut(text, limit) == out
    assert width(cut(text, limit)) <= max(limit, 0)


@pytest.mark.parametrize(
    ("natural", "floors", "limit", "widths"),
    [
        ([9, 20, 10], [9, 6, 6], None, [9, 20, 10]),
        ([9, 20, 10], [9, 6, 6], 100, [9, 20, 10]),
        ([9, 20, 10], [9, 6, 6], 33, [9, 10, 10]),  # the widest gives way first
        ([9, 20, 10], [9, 6, 6], 29, [9, 8, 8]),
        ([9, 20, 10], [9, 6, 6], 10, [9, 6, 6]),  # floors hold: lines are cut instead
    ],
)
def test_fit(natural: list[int], floors: list[int], limit: int | None, widths: list[int]) -> None:
    assert fit(natural, floors, limit) == widths


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45s", 45),
        ("90m", 5400),
        ("12h", 43200),
        ("30d", 2592000),
        ("2w", 1209600),
        (" 3D ", 259200),
    ],
)
def test_age(text: str, seconds: int) -> None:
    assert age(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "d", "1.5d", "-3d", "3 weeks", "3y"])
def test_bad_age(text: str) -> None:
    with pytest.raises(ValueError, match="--older-than"):
        age(text)


def _image(i: int, day: int, kind: str = "snapshot", name: str = "n") -> Image:
    created = datetime(2025, 1, day, tzinfo=timezone.utc)
    return Image(id=i, name=name, type=kind, created_at=created)


async def _walk(prune: Prune, pages: list[list[Image]]) -> list[int]:
    async def source():  # type: ignore[no-untyped-def]
        for page in pages:
            yield page, None

    gone = []
    async for rows, _ in prune.walk(source()):
        gone += [row.id for row in rows]
    return gone


@pytest.mark.parametrize(
    ("keep", "expected_gone"),
    [(0, [1, 2, 3, 4, 5]), (2, [2, 4, 5]), (5, []), (9, [])],
)
async def test_prune_keeps_the_newest(keep: int, expected_gone: list[int]) -> None:
    days = {1: 20, 2: 3, 3: 25, 4: 1, 5: 10}  # id -> day of January
    pages = [[_image(i, days[i]) for i in (1, 2)], [_image(i, days[i]) for i in (3, 4, 5)]]
    prune = Prune(keep, name_prefix="n")
    assert sorted(await _walk(prune, pages)) == expected_gone
    assert prune.kept == min(keep, 5)


async def test_prune_filters() -> None:
    now = datetime(2025, 2, 1, tzinfo=timezone.utc)
    prune = Prune(0, name_prefix="ci-", older_than=timedelta(days=14), now=now)
    pages = [[
        _image(1, 1, name="ci-a"), _image(2, 30, name="ci-b"),  # too young
        _image(3, 1, name="prod"), _image(4, 1, kind="backup", name="ci-c"),
        _image(5, 1, kind="custom", name="ci-d"), Image(id=6, name="ci-e", type="snapshot"),
    ]]  # fmt: skip
    assert await _walk(prune, pages) == [1, 5]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({}, "needs a filter"), ({"name_prefix": "x", "keep": -1}, "--keep")],
)
def test_prune_refuses(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Prune(**{"keep": 1, **kwargs})  # type: ignore[arg-type]
