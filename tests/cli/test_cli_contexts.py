"""One listing (and one prune) across several accounts: ``--all-contexts`` and repeated
``--context``, through ``do_images.crawl`` (one connection pool, a failing account named and
the others listed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from do_images.testing import Emulator

from .helpers import arun

TOKENS = {"acme-token-SECRET": "acme", "beta-token-SECRET": "beta", "gamma-token-SECRET": "gamma"}
CONFIG = """\
access-token: ""
auth-contexts:
  acme: acme-token-SECRET
  beta: beta-token-SECRET
  gamma: gamma-token-SECRET
  revoked: revoked-token-SECRET
context: acme
"""


@pytest.fixture
async def fleet() -> AsyncIterator[Emulator]:
    async with Emulator(tokens=TOKENS, seed=False) as emu:
        for account, count in (("acme", 3), ("beta", 2), ("gamma", 1)):
            emu.add_images(count, kind="snapshot", account=account, name=f"web-01 {account}")
        yield emu


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


async def _run(emu: Emulator, config: Path, *args: str) -> tuple[int, str, str]:
    result = await arun("--api-url", str(emu.url), "--config", str(config), *args)
    assert "SECRET" not in result.out + result.err
    return result.code, result.out, result.err


async def test_several_contexts_list_as_one_with_a_context_column(
    fleet: Emulator, config: Path
) -> None:
    code, out, err = await _run(fleet, config, "-o", "jsonl", "images", "list", "--private",
                                "--context", "acme", "--context", "gamma")  # fmt: skip
    assert (code, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["context"] for r in rows) == ["acme"] * 3 + ["gamma"]
    assert all(r["name"] == f"web-01 {r['context']}" for r in rows)
    assert list(rows[0])[:2] == ["context", "id"]
    two = ("--context", "beta", "--context", "gamma")
    code, table, _ = await _run(fleet, config, "images", "list", "--private", *two,
                                "--format", "context,name")  # fmt: skip
    assert code == 0
    assert table.splitlines()[0].split() == ["CONTEXT", "NAME"]
    assert sorted(line.split()[0] for line in table.splitlines()[1:]) == ["beta", "beta", "gamma"]


async def test_all_contexts_with_a_broken_one_lists_the_others_and_exits_3(
    fleet: Emulator, config: Path
) -> None:
    code, out, err = await _run(fleet, config, "-o", "jsonl", "images", "list", "--private",
                                "--all-contexts")  # fmt: skip
    assert code == 3
    lines = out.splitlines()
    assert lines[-1].startswith("!incomplete: ")  # one account is missing from the listing
    listed = sorted(json.loads(line)["context"] for line in lines[:-1])
    assert listed == ["acme"] * 3 + ["beta"] * 2 + ["gamma"]
    assert "context 'revoked' failed: 401" in err
    assert "1 of 4 contexts failed: 'revoked'" in err
    accounts = {r.account for r in fleet.requests}
    assert accounts == {"acme", "beta", "gamma", None}  # None: the revoked token's 401


async def test_prune_each_account_keeps_its_own_newest(fleet: Emulator, config: Path) -> None:
    args = ("images", "prune", "--keep", "1", "--name-prefix", "web-01", "--all-contexts")
    code, out, err = await _run(fleet, config, "-o", "jsonl", *args)
    assert code == 3  # the revoked context: named, not pruned
    dry = [json.loads(line) for line in out.splitlines()]  # what each listed account would lose
    assert sorted(r["context"] for r in dry) == ["acme", "acme", "beta"]
    assert {r["result"] for r in dry} == {"would delete"}
    assert all(r.method == "GET" for r in fleet.requests)
    code, out, err = await _run(fleet, config, "-o", "jsonl", *args, "--force")
    assert code == 3, err
    deleted = [json.loads(line) for line in out.splitlines()]
    assert sorted((r["context"], r["result"]) for r in deleted) == [
        ("acme", "deleted"), ("acme", "deleted"), ("beta", "deleted")
    ]  # fmt: skip
    assert "deleted 3 image(s), kept 3, in 3 context(s)" in err
    left = await _run(fleet, config, "-o", "jsonl", "images", "list", "--private", "--context",
                      "acme", "--context", "beta", "--context", "gamma")  # fmt: skip
    assert sorted(json.loads(line)["context"] for line in left[1].splitlines()) == [
        "acme", "beta", "gamma"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--context", "a", "--context", "b", "images", "get", "5"), "only images list"),
        (("-t", "x", "images", "list", "--all-contexts"), "leave out -t"),
        (("--context", "acme", "images", "list", "--all-contexts"), "exclude each other"),
        (("images", "list", "--context", "acme", "--context", "nope"), "--context nope"),
    ],
)
async def test_several_accounts_misused_are_usage_errors(
    fleet: Emulator, config: Path, args: tuple[str, ...], needle: str
) -> None:
    code, _, err = await _run(fleet, config, *args)
    assert code == 2, err
    assert needle in err
    assert fleet.requests == []
