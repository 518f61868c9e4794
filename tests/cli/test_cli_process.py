"""Process-level behaviour: Ctrl-C, the ``emulator`` subcommand, progress only on a terminal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from do_images.testing import Emulator

from .helpers import CLI, TIMEOUT, TOKEN, env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")


async def _until(proc: asyncio.subprocess.Process, predicate: Callable[[], bool]) -> None:
    for _ in range(int(TIMEOUT / 0.02)):
        if predicate():
            return
        assert proc.returncode is None, "the command ended early"
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


async def test_ctrl_c_exits_130() -> None:
    async with Emulator(steps=1000) as emu:
        image_id = emu.add_image(kind="custom", status="NEW")["id"]
        proc = await asyncio.create_subprocess_exec(
            *CLI, "--base-url", str(emu.url), "--token", TOKEN,
            "images", "wait", str(image_id), "--poll-interval", "0.05",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        )  # fmt: skip
        await _until(proc, lambda: len(emu.requests) >= 2)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 130
    assert err.decode().strip() == "do-images: error: interrupted"
    assert out == b""


async def test_emulator_subcommand_serves_until_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "emulator", "--port", "0", "--no-seed",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).decode()
        assert "serving" in line
        url = line.split()[-1]
        listed = await asyncio.create_subprocess_exec(
            *CLI, "--base-url", url, "--token", "t", "-o", "json", "images", "list",
            stdout=subprocess.PIPE, env=env(),
        )  # fmt: skip
        out, _ = await asyncio.wait_for(listed.communicate(), TIMEOUT)
        assert (listed.returncode, out.decode().strip()) == (0, "[]")
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0


def _stderr_on_a_terminal(*args: str) -> tuple[int, str]:
    import pty

    main_fd, side_fd = pty.openpty()
    try:
        done = subprocess.run(
            [*CLI, *args], stdout=subprocess.PIPE, stderr=side_fd, env=env(),
            timeout=TIMEOUT, check=False,
        )  # fmt: skip
        os.close(side_fd)
        chunks = []
        while True:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main_fd)
    return done.returncode, b"".join(chunks).decode()


def test_progress_only_on_a_terminal() -> None:
    args = ("--emulator", "images", "list", "--per-page", "5")
    code, shown = _stderr_on_a_terminal(*args)
    assert code == 0
    assert "listing images:" in shown
    quiet = subprocess.run(
        [*CLI, *args], capture_output=True, env=env(), timeout=TIMEOUT, check=False
    )
    assert (quiet.returncode, quiet.stderr) == (0, b"")
