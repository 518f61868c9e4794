"""Run the real ``do-images`` command in a subprocess and revive its JSON into models."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import attrs

from do_images import Action, Image, Region

CLI = (sys.executable, "-m", "do_images")
TOKEN = "dop_v1_cli-SECRET-token-never-print-me"
TIMEOUT = 20.0


@attrs.frozen
class Result:
    """A finished command: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


NO_CONFIG_HOME = "/nonexistent/do-images-tests"  # no doctl config of the machine is read


def env(**extra: str) -> dict[str, str]:
    """The test process's environment without any DigitalOcean token or doctl config (and
    `extra` variables)."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("DIGITALOCEAN_") and k != "COLUMNS"
    }
    clean["PYTHONUNBUFFERED"] = "1"
    clean["XDG_CONFIG_HOME"] = NO_CONFIG_HOME
    return clean | extra


def run(*args: str, program: tuple[str, ...] = CLI) -> Result:
    """Run the command synchronously (only for tests without an in-process emulator)."""
    done = subprocess.run(
        [*program, *args], capture_output=True, text=True, env=env(), timeout=TIMEOUT, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def arun(*args: str, extra_env: dict[str, str] | None = None) -> Result:
    """Run the command without blocking the event loop (so an in-process emulator answers)."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(**(extra_env or {}))
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def one_error_line(result: Result, *, notes: int = 0) -> str:
    """The single ``do-images: error: …`` line of a failed command, after `notes` lines of
    its own (such as the id printed before a wait), and nothing else."""
    lines = result.err.splitlines()[notes:]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("do-images: error: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


def _revive(value: Any, name: str) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str) and name.endswith("_at"):
        return datetime.fromisoformat(value)
    if isinstance(value, dict) and name == "region":
        return Region(**{k: _revive(v, k) for k, v in value.items()})
    return value


def image(data: dict[str, Any]) -> Image:
    """An Image back from the CLI's JSON."""
    return Image(**{k: _revive(v, k) for k, v in data.items()})


def action(data: dict[str, Any]) -> Action:
    """An Action back from the CLI's JSON."""
    return Action(**{k: _revive(v, k) for k, v in data.items()})


@attrs.frozen
class Screen:
    """A command run on a terminal: exit code, what the terminal showed, and stdout when it
    was a pipe rather than the terminal."""

    code: int
    shown: str
    out: str


async def on_terminal(
    *args: str,
    columns: int = 80,
    stdout_on_terminal: bool = True,
    reply: bytes | None = None,
    prompt: bytes = b"(y/N)",
    extra_env: dict[str, str] | None = None,
) -> Screen:
    """Run the command with stdin and stderr (and stdout) on a pseudo-terminal `columns` wide;
    type `reply` once `prompt` is shown. Runs without blocking the event loop."""
    import fcntl
    import pty
    import struct
    import termios

    main_fd, side_fd = pty.openpty()
    fcntl.ioctl(side_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:  # blocking reads until the terminal's other side is gone
        replied = reply is None
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: every holder of the other side has exited
                return
            if not chunk:
                return
            chunks.append(chunk)
            if not replied and prompt in b"".join(chunks):
                os.write(main_fd, reply or b"")
                replied = True

    proc = await asyncio.create_subprocess_exec(
        *CLI, *args,
        stdin=side_fd, stderr=side_fd,
        stdout=side_fd if stdout_on_terminal else subprocess.PIPE,
        env={**env(), **(extra_env or {})},
    )  # fmt: skip
    os.close(side_fd)
    reader = asyncio.ensure_future(asyncio.to_thread(drain))
    try:
        out = b"" if proc.stdout is None else await asyncio.wait_for(proc.stdout.read(), TIMEOUT)
        await asyncio.wait_for(proc.wait(), TIMEOUT)
        await asyncio.wait_for(reader, TIMEOUT)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    finally:
        await asyncio.wait_for(reader, TIMEOUT)
        os.close(main_fd)
    assert proc.returncode is not None
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    return Screen(proc.returncode, shown, out.decode())


async def start_emulator(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    """``python -m do_images.testing --port 0 ARGS`` in its own process, and its URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "do_images.testing", "--port", "0", *args,
        stdout=subprocess.PIPE, env=env(),
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    assert line.startswith("serving"), line
    return proc, line.split()[-1]


async def stop(proc: asyncio.subprocess.Process) -> None:
    """Stop a process started here (SIGTERM, then wait)."""
    if proc.returncode is None:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), TIMEOUT)
