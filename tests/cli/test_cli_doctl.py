"""doctl's habits: ``-t``, ``--api-url``, auth contexts from doctl's own config file (read only),
``--context`` / ``$DIGITALOCEAN_CONTEXT``, ``auth list``, and which token wins."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from do_images.testing import Emulator

from .helpers import TOKEN, arun

TOKENS = {
    "dop_v1_default-token-SECRET": "default-account",
    "dop_v1_acme-token-SECRET": "acme",
    "dop_v1_beta-token-SECRET": "beta",
    "dop_v1_env-token-SECRET": "from-env",
    "dop_v1_flag-token-SECRET": "from-flag",
}
CONFIG = """\
access-token: dop_v1_default-token-SECRET
auth-contexts:
  acme: dop_v1_acme-token-SECRET
  beta: dop_v1_beta-token-SECRET
  empty: ""
context: acme
output: text
"""


@pytest.fixture
async def accounts() -> AsyncIterator[Emulator]:
    async with Emulator(tokens=TOKENS) as emu:
        yield emu


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    """An XDG config home holding doctl/config.yaml, as `doctl auth init` leaves it."""
    (tmp_path / "doctl").mkdir()
    (tmp_path / "doctl" / "config.yaml").write_text(CONFIG)
    return tmp_path


def _no_token_in(*texts: str) -> None:
    for text in texts:
        assert "SECRET" not in text


async def _account(emu: Emulator, *args: str, **env: str) -> str | None:
    """Which account a `rate-limit` command reached with `args` and `env` (None: it failed)."""
    emu.clear_requests()
    result = await arun("--api-url", str(emu.url), *args, "rate-limit", extra_env=env)
    _no_token_in(result.out, result.err)
    if result.code != 0:
        return None
    return emu.requests[-1].account


async def test_doctls_short_flags(accounts: Emulator) -> None:
    for flag in ("-t", "--access-token", "--token"):
        flags = (flag, "dop_v1_flag-token-SECRET")
        result = await arun(*flags, "-u", str(accounts.url), "-o", "json", "images", "list",
                            "--private")  # fmt: skip
        assert result.code == 0, result.err
        assert json.loads(result.out) == []
        assert accounts.requests[-1].account == "from-flag"
    via_base_url = await arun("--base-url", str(accounts.url), "-t", "dop_v1_acme-token-SECRET",
                              "rate-limit")  # fmt: skip
    assert via_base_url.code == 0


# (flags, environment, the account reached): flags > environment > config file.
PRECEDENCE: list[tuple[tuple[str, ...], dict[str, str], str]] = [
    ((), {}, "acme"),  # the config's current context
    (("--context", "beta"), {}, "beta"),
    (("--context", "default"), {}, "default-account"),  # the config's access-token
    ((), {"DIGITALOCEAN_CONTEXT": "beta"}, "beta"),
    ((), {"DIGITALOCEAN_ACCESS_TOKEN": "dop_v1_env-token-SECRET"}, "from-env"),
    (
        (),
        {"DIGITALOCEAN_TOKEN": "dop_v1_env-token-SECRET", "DIGITALOCEAN_CONTEXT": "beta"},
        "from-env",
    ),
    (("--context", "beta"), {"DIGITALOCEAN_TOKEN": "dop_v1_env-token-SECRET"}, "beta"),
    (
        ("-t", "dop_v1_flag-token-SECRET", "--context", "beta"),
        {"DIGITALOCEAN_TOKEN": "dop_v1_env-token-SECRET"},
        "from-flag",
    ),
]


@pytest.mark.parametrize(("flags", "environment", "reached"), PRECEDENCE)
async def test_which_token_wins(
    accounts: Emulator,
    config_home: Path,
    flags: tuple[str, ...],
    environment: dict[str, str],
    reached: str,
) -> None:
    found = await _account(accounts, *flags, XDG_CONFIG_HOME=str(config_home), **environment)
    assert found == reached


async def test_config_flag_points_elsewhere(accounts: Emulator, tmp_path: Path) -> None:
    elsewhere = tmp_path / "my-doctl.yaml"
    elsewhere.write_text(CONFIG.replace("context: acme", "context: beta"))
    elsewhere.chmod(0o400)  # doctl writes it with 0600; a writer here would fail loudly
    before = (elsewhere.read_bytes(), elsewhere.stat().st_mtime_ns)
    assert await _account(accounts, "--config", str(elsewhere)) == "beta"
    assert await _account(accounts, "-c", str(elsewhere), "--context", "acme") == "acme"
    listed = await arun("--config", str(elsewhere), "auth", "list")
    assert listed.code == 0
    assert (elsewhere.read_bytes(), elsewhere.stat().st_mtime_ns) == before  # never rewritten
    assert os.listdir(tmp_path) == ["my-doctl.yaml"]  # nothing written beside it


async def test_a_context_without_a_token_is_a_clear_usage_error(
    accounts: Emulator, config_home: Path
) -> None:
    for flags, env, named in (
        (("--context", "nope"), {}, "--context nope"),
        (("--context", "empty"), {}, "--context empty"),
        ((), {"DIGITALOCEAN_CONTEXT": "nope"}, "$DIGITALOCEAN_CONTEXT nope"),
    ):
        result = await arun("--api-url", str(accounts.url), *flags, "rate-limit",
                            extra_env={"XDG_CONFIG_HOME": str(config_home), **env})  # fmt: skip
        assert result.code == 2, result.err
        assert named in result.err
        assert "acme, beta, default" in result.err
        _no_token_in(result.out, result.err)
    assert accounts.requests == []


async def test_a_401_names_the_context_not_the_token(config_home: Path) -> None:
    async with Emulator(tokens={"only-this": "x"}) as strict:
        result = await arun("--api-url", str(strict.url), "rate-limit",
                            extra_env={"XDG_CONFIG_HOME": str(config_home)})  # fmt: skip
    assert result.code == 3
    assert "the token came from context 'acme' of " in result.err
    assert "doctl/config.yaml" in result.err
    _no_token_in(result.err)


async def test_a_broken_config_is_a_usage_error(accounts: Emulator, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    for text in ("auth-contexts: [a, b]\n", "- a list\n", "key: [unclosed\n"):
        bad.write_text(text)
        result = await arun("--api-url", str(accounts.url), "--config", str(bad), "rate-limit")
        assert result.code == 2, result.err
        assert str(bad) in result.err
    assert accounts.requests == []


async def test_auth_list_names_contexts_marks_the_current_never_a_token(
    config_home: Path,
) -> None:
    env = {"XDG_CONFIG_HOME": str(config_home)}
    table = await arun("auth", "list", extra_env=env)
    assert table.code == 0, table.err
    assert table.out.splitlines() == [
        "NAME     CURRENT  TOKEN",
        "acme     yes      set",
        "beta     no       set",
        "default  no       set",
        "empty    no       none",
    ]
    switched = await arun(
        "-o", "json", "auth", "list", extra_env={**env, "DIGITALOCEAN_CONTEXT": "beta"}
    )
    listed = json.loads(switched.out)
    assert [(c["name"], c["current"]) for c in listed if c["current"]] == [("beta", True)]
    flagged = await arun("--context", "empty", "-o", "jsonl", "auth", "list", extra_env=env)
    assert [json.loads(line)["name"] for line in flagged.out.splitlines()
            if json.loads(line)["current"]] == ["empty"]  # fmt: skip
    nothing = await arun("auth", "list")  # no config file at all: doctl's implicit default
    assert nothing.out.splitlines()[1:] == ["default  yes      none"]
    _no_token_in(table.out, table.err, switched.out, flagged.out, nothing.out)


async def test_no_token_anywhere_says_how_to_give_one() -> None:
    result = await arun("rate-limit")
    assert result.code == 2
    for way in ("-t/--access-token", "DIGITALOCEAN_TOKEN", "--context", "--emulator"):
        assert way in result.err
    assert TOKEN not in result.err
