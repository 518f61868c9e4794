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


def env() -> dict[str, str]:
    """The test process's environment without any DigitalOcean token."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("DIGITALOCEAN_") and k != "COLUMNS"
    }
    clean["PYTHONUNBUFFERED"] = "1"
    return clean


def run(*args: str, program: tuple[str, ...] = CLI) -> Result:
    """Run the command synchronously (only for tests without an in-process emulator)."""
    done = subprocess.run(
        [*program, *args], capture_output=True, text=True, env=env(), timeout=TIMEOUT, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def arun(*args: str) -> Result:
    """Run the command without blocking the event loop (so an in-process emulator answers)."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
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
