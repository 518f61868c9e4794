"""``images delete`` (many ids, confirmation like doctl, concurrent) and ``images prune``."""

from __future__ import annotations

import json
import time

from do_images.testing import Emulator

from .conftest import Cli
from .helpers import TOKEN, on_terminal


def _snapshots(emu: Emulator, count: int, **fields: object) -> list[int]:
    return [emu.add_image(kind="snapshot", **fields).id for _ in range(count)]


def _deletes(emu: Emulator) -> list[str]:
    return [r.path for r in emu.requests if r.method == "DELETE"]


async def test_delete_many_prints_one_result_per_id(emu: Emulator, cli: Cli) -> None:
    ids = _snapshots(emu, 3)
    result = await cli("-o", "json", "images", "delete", "--force", *map(str, ids), "999999999")
    assert result.code == 3
    outcomes = json.loads(result.out)
    assert [o["id"] for o in outcomes] == [*ids, 999999999]
    assert [o["result"] for o in outcomes] == ["deleted"] * 3 + ["failed"]
    assert outcomes[-1]["error"] == "image 999999999 not found"
    assert "1 of 4 images not deleted; first: image 999999999 not found" in result.err
    assert all(emu.image(i) is None for i in ids)
    lines = await cli("-o", "jsonl", "images", "delete", "-f", *map(str, _snapshots(emu, 2)))
    assert lines.code == 0
    assert [json.loads(line)["result"] for line in lines.out.splitlines()] == ["deleted"] * 2


async def test_deletes_run_concurrently() -> None:
    async with Emulator(seed=False, latency=0.5) as emu:
        ids = [str(i) for i in _snapshots(emu, 8)]
        started = time.monotonic()
        base = ("--base-url", str(emu.url), "--token", TOKEN)
        result = await on_terminal(*base, "images", "delete", "-f", *ids, stdout_on_terminal=False)
        elapsed = time.monotonic() - started
    assert result.code == 0, result.shown
    assert len(_deletes(emu)) == 8
    assert elapsed < 8 * 0.5  # one after the other would take 4 s of latency alone


async def test_without_a_terminal_or_force_nothing_is_deleted(emu: Emulator, cli: Cli) -> None:
    ids = [str(i) for i in _snapshots(emu, 2)]
    result = await cli("-o", "json", "images", "delete", *ids)
    assert result.code == 2
    assert result.out == ""
    assert "pass --force" in result.err
    assert emu.requests == []


async def test_a_terminal_asks_first(emu: Emulator) -> None:
    ids = [str(i) for i in _snapshots(emu, 2)]
    base = ("--base-url", str(emu.url), "--token", TOKEN, "images", "delete", *ids)
    declined = await on_terminal(*base, reply=b"n\n")
    assert declined.code == 2
    assert f"Are you sure you want to delete 2 images ({ids[0]}, {ids[1]})? (y/N)" in declined.shown
    assert "not confirmed" in declined.shown
    assert _deletes(emu) == []
    confirmed = await on_terminal(*base, reply=b"y\n")
    assert confirmed.code == 0, confirmed.shown
    assert sorted(_deletes(emu)) == sorted(f"/v2/images/{i}" for i in ids)
    assert f"{ids[0]}  deleted" in confirmed.shown


async def test_prune_keeps_the_newest_matching_and_dry_runs_by_default(
    emu: Emulator, cli: Cli
) -> None:
    days = (5, 1, 4, 2, 3)  # listed in id order, not in age order
    nightly = [
        emu.add_image(kind="snapshot", name=f"nightly-{d}", created_at=f"2025-03-0{d}T01:00Z").id
        for d in days
    ]
    other = emu.add_image(kind="snapshot", name="keepme", created_at="2020-01-01T00:00:00Z").id
    backup = emu.add_image(kind="backup", name="nightly-0", created_at="2020-01-01T00:00:00Z").id
    args = ("images", "prune", "--keep", "2", "--name-prefix", "nightly-")
    dry = await cli("-o", "json", *args)
    assert dry.code == 0, dry.err
    doomed = json.loads(dry.out)
    assert sorted(d["name"] for d in doomed) == ["nightly-1", "nightly-2", "nightly-3"]
    assert {d["result"] for d in doomed} == {"would delete"}
    assert "dry run: 3 image(s) would be deleted, 2 kept; pass --force" in dry.err
    assert _deletes(emu) == []
    done = await cli("-o", "text", "--no-header", "--format", "id,result", *args, "--force")
    assert done.code == 0, done.err
    gone = [i for i, d in zip(nightly, days, strict=True) if d <= 3]
    assert sorted(done.out.splitlines()) == sorted(f"{i}\tdeleted" for i in gone)
    assert "deleted 3 image(s), kept 2" in done.err
    kept = [i for i, d in zip(nightly, days, strict=True) if d > 3]
    assert [i for i in (*nightly, other, backup) if emu.image(i)] == [*kept, other, backup]


async def test_prune_by_tag_and_age(emu: Emulator, cli: Cli) -> None:
    old = emu.add_image(kind="custom", tags=["ci"], created_at="2021-01-01T00:00:00Z").id
    older = emu.add_image(kind="snapshot", tags=["ci"], created_at="2020-01-01T00:00:00Z").id
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fresh = emu.add_image(kind="snapshot", tags=["ci"], created_at=now).id
    untagged = emu.add_image(kind="snapshot", created_at="2019-01-01T00:00:00Z").id
    result = await cli("-o", "jsonl", "images", "prune", "--keep", "0", "--tag", "ci",
                       "--older-than", "30d", "--force")  # fmt: skip
    assert result.code == 0, result.err
    assert sorted(json.loads(line)["id"] for line in result.out.splitlines()) == sorted(
        [old, older]
    )
    assert emu.image(fresh)
    assert emu.image(untagged)
    assert any(r.query.get("tag_name") == "ci" for r in emu.requests)  # filtered by the API


async def test_deleted_images_carry_what_the_command_knew(emu: Emulator, cli: Cli) -> None:
    # `images delete` knows ids only: no "name": null, "created_at": null.
    ids = _snapshots(emu, 2)
    result = await cli("-o", "jsonl", "images", "delete", "--force", *map(str, ids))
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert rows == [{"id": i, "result": "deleted", "error": None} for i in ids]
    pruned = await cli("-o", "jsonl", "images", "prune", "--keep", "1", "--name-prefix", "web-01")
    names = [json.loads(line)["name"] for line in pruned.out.splitlines()]
    assert names == ["web-01 2024-11-02"]  # the README's demo prunes the older web-01
    assert all(json.loads(line)["created_at"] for line in pruned.out.splitlines())
