"""Listings stream: the first row comes with the first page, memory stays flat, a failed call
leaves stdout empty, a listing that fails part-way never looks complete, and progress never
mixes with output."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest

from do_images.testing import Emulator, Fault

from .conftest import Cli
from .helpers import CLI, TIMEOUT, TOKEN, arun, env, on_terminal, start_emulator, stop

FORMATS = ["table", "text", "json", "jsonl"]
# Runs the real command and reports its peak RSS (KiB on Linux) on stderr's last line.
MEASURED = (
    "import resource, sys\n"
    "from do_images.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


async def test_first_row_of_100000_images_comes_with_the_first_pages() -> None:
    async with Emulator(seed=False, rate_limits=()) as emu:
        emu.add_images(100_000)
        proc = await asyncio.create_subprocess_exec(
            *CLI, "--base-url", str(emu.url), "--token", TOKEN, "images", "list",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            header = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
            first = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
            assert header.split()[0] == b"ID"
            assert first.split()[0] == b"160000001"
            # Not reading on: a streaming command soon blocks on the full pipe, with a few
            # pages written and at most its prefetch window (64 by default) in flight; one
            # that holds the listing would go on to request all 500 pages.
            await asyncio.sleep(1.0)
            pages = [r for r in emu.requests if r.path == "/v2/images"]
            assert len(pages) <= 64 + 16, len(pages)
        finally:
            proc.kill()
            await asyncio.wait_for(proc.communicate(), TIMEOUT)  # drained, or wait() would hang


async def test_head_closing_the_pipe_stops_quietly() -> None:
    async with Emulator(seed=False, rate_limits=()) as emu:
        emu.add_images(20_000)
        command = " ".join([sys.executable, "-m", "do_images", "--base-url", str(emu.url),
                            "--token", TOKEN, "images", "list", "|", "head", "-1"])  # fmt: skip
        proc = await asyncio.create_subprocess_shell(
            f"{command}; echo \"status=${{PIPESTATUS[0]}}\"",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), executable="/bin/bash",
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert out.decode().splitlines() == [out.decode().splitlines()[0], "status=141"]
    assert out.startswith(b"ID ")
    assert err == b""
    assert len([r for r in emu.requests if r.path == "/v2/images"]) < 100


@pytest.mark.parametrize("fmt", FORMATS)
async def test_memory_stays_flat_in_the_listings_length(fmt: str) -> None:
    peaks = []
    for count in (10_000, 100_000):
        emulator, url = await start_emulator("--no-seed", "--no-rate-limit", "--images", str(count))
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", MEASURED, "--base-url", url, "--token", TOKEN,
                "--no-rate-limit", "-o", fmt, "images", "list",
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(),
            )  # fmt: skip
            _, err = await asyncio.wait_for(proc.communicate(), 120)
        finally:
            await stop(emulator)
        assert proc.returncode == 0, err
        peaks.append(int(err.decode().split()[-1]))
    small, large = peaks
    # Holding 90,000 more images (as objects or as text) would take well over 50 MiB.
    assert large - small < 12 * 1024, peaks


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_failing_first_call_leaves_stdout_empty(emu: Emulator, cli: Cli, fmt: str) -> None:
    async with Emulator(tokens={"the-only-token": "a"}) as strict:
        unauthorized = await arun("--base-url", str(strict.url), "--token", TOKEN,
                                  "-o", fmt, "images", "list")  # fmt: skip
    unreachable = await arun("--base-url", "http://127.0.0.1:9", "--token", TOKEN,
                             "--max-retries", "0", "-o", fmt, "images", "list")  # fmt: skip
    emu.inject(Fault(kind="status", status=500, times=None))
    failing = await cli("--max-retries", "0", "-o", fmt, "images", "list")
    for result in (unauthorized, unreachable, failing):
        assert result.code == 3
        assert result.out == ""


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_listing_failing_midway_never_looks_complete(fmt: str) -> None:
    async with Emulator(seed=False, latency=0.02) as emu:
        emu.add_images(400, kind="snapshot")
        proc = await asyncio.create_subprocess_exec(
            *CLI, "--base-url", str(emu.url), "--token", TOKEN, "--max-retries", "0",
            "--concurrency", "1", "-o", fmt, "images", "list", "--per-page", "5",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        )  # fmt: skip
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        emu.inject(Fault(kind="status", status=500, times=None))
        rest, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    out = (first + rest).decode()
    assert proc.returncode == 3
    assert err.decode().startswith("do-images: error: 500")
    lines = out.splitlines()
    assert lines[-1].startswith("!incomplete: the command failed after ")
    assert 5 <= int(re.findall(r"after (\d+)", lines[-1])[0]) < 400
    if fmt == "json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(out)
    if fmt == "jsonl":
        assert all(json.loads(line)["id"] for line in lines[:-1])
        with pytest.raises(json.JSONDecodeError):
            [json.loads(line) for line in lines]


async def test_progress_is_cleared_before_output_on_one_terminal(emu: Emulator) -> None:
    base = ("--base-url", str(emu.url), "--token", TOKEN, "images", "list", "--per-page", "3")
    for fmt in ("jsonl", "table"):
        screen = await on_terminal(*base, "-o", fmt)
        assert screen.code == 0
        assert "listing images: " in screen.shown  # progress was shown between pages...
        # ...and erased each time before output: nothing follows a progress text on its row.
        glued = re.search(r"listing images: [\d/]+(?![\d/]|\r|\n|\x1b|$)", screen.shown)
        assert glued is None, screen.shown
        rows = [line.split("\r\x1b[K")[-1] for line in screen.shown.split("\n")]
        assert len([row for row in rows if row.startswith(("{", "16"))]) == 33
