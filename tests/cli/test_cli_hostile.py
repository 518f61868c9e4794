"""Issue 15's command-line classes: an empty prune filter, SIGTERM mid-listing, an age too
large for a date (each through the real command in a subprocess)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest

from do_images.testing import Emulator

from .conftest import Cli
from .helpers import CLI, TIMEOUT, TOKEN, env


@pytest.mark.parametrize(
    "flag",
    [("--name-prefix", ""), ("--name-prefix", "  "), ("--tag", ""), ("--tag", " \t")],
    ids=["empty-prefix", "blank-prefix", "empty-tag", "blank-tag"],
)
async def test_prune_with_an_empty_filter_is_a_usage_error(
    emu: Emulator, cli: Cli, flag: tuple[str, str]
) -> None:
    # e.g. `--name-prefix "$UNSET"`: it must not mean "every snapshot and custom image".
    result = await cli("images", "prune", "--keep", "0", "--force", *flag)
    assert result.code == 2, result.err
    assert flag[0] in result.err
    assert "empty" in result.err
    assert result.out == ""
    assert emu.requests == []


@pytest.mark.parametrize("age", ["3000000d", "99999999999w", "9" * 30 + "s"])
async def test_an_age_beyond_any_date_is_a_usage_error(emu: Emulator, cli: Cli, age: str) -> None:
    result = await cli("images", "prune", "--keep", "1", "--older-than", age)
    assert result.code == 2, result.err
    assert "--older-than" in result.err
    assert "Traceback" not in result.err
    assert emu.requests == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("fmt", ["jsonl", "json", "table"])
async def test_sigterm_mid_listing_marks_the_output_incomplete(fmt: str) -> None:
    # What `timeout`, `docker stop` and Kubernetes send: the output must not parse as complete.
    async with Emulator(seed=False, latency=0.05) as emu:
        emu.add_images(400, kind="snapshot")
        proc = await asyncio.create_subprocess_exec(
            *CLI, "--base-url", str(emu.url), "--token", TOKEN, "--concurrency", "1",
            "-o", fmt, "images", "list", "--per-page", "5",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        )  # fmt: skip
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        proc.send_signal(signal.SIGTERM)
        rest, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    out = (first + rest).decode()
    assert proc.returncode == 143, err
    assert err.decode().strip() == "do-images: error: terminated"
    last = out.splitlines()[-1]
    assert last.startswith("!incomplete: the command failed after "), out
    if fmt == "jsonl":
        with pytest.raises(json.JSONDecodeError):
            [json.loads(line) for line in out.splitlines()]
