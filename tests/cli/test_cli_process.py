"""Process-level behaviour: Ctrl-C (keeping what was done), the ``emulator`` subcommand,
progress only on a terminal."""

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
        image_id = emu.add_image(kind="custom", status="NEW").id
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


WAITS = [
    ("images", "create", "--name", "n", "--url", "https://example.com/a.img", "--region", "nyc3"),
    ("actions", "transfer", "{snapshot}", "--region", "ams3"),
    ("actions", "convert", "{backup}"),
]


@pytest.mark.parametrize("command", WAITS, ids=["create", "transfer", "convert"])
async def test_ctrl_c_during_wait_keeps_the_new_id(command: tuple[str, ...]) -> None:
    async with Emulator(steps=1000) as emu:
        ids = {"snapshot": emu.add_image(kind="snapshot").id,
               "backup": emu.add_image(kind="backup").id}  # fmt: skip
        args = [part.format(**ids) for part in command]
        proc = await asyncio.create_subprocess_exec(
            *CLI, "--base-url", str(emu.url), "--token", TOKEN, "-o", "json",
            *args, "--wait", "--poll-interval", "0.05",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        )  # fmt: skip
        assert proc.stderr is not None
        note = (await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)).decode()
        resume = note.split("resume with: ")[1].rstrip(")\n")
        polls = len(emu.requests) + 2
        await _until(proc, lambda: len(emu.requests) >= polls)  # waiting, not yet done
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        assert proc.returncode == 130
        assert out == b""
        assert err.decode().strip() == f"do-images: error: interrupted; resume with: {resume}"
        # The printed command picks up the wait: still running, so it times out (exit 4),
        # where a wrong id would be "not found" (exit 3).
        resumed = await asyncio.create_subprocess_exec(
            *CLI, "--base-url", str(emu.url), "--token", TOKEN, *resume.split()[1:],
            "--wait-timeout", "0.3", "--poll-interval", "0.05",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        )  # fmt: skip
        _, resumed_err = await asyncio.wait_for(resumed.communicate(), TIMEOUT)
    assert resumed.returncode == 4, resumed_err
    if command[0] == "images":
        image_id = int(resume.split()[-1])
        assert note.startswith(f"created image {image_id}; waiting")
        assert emu.image_json(image_id)["status"] == "NEW"  # type: ignore[index]
    else:
        assert note.startswith(f"started {command[1]} action ")
