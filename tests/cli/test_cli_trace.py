"""``--trace`` (a stderr line per HTTP attempt, a line per retry decision, never the token) and
retries announced as they happen."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time

import pytest

from do_images.testing import Emulator, Fault

from .conftest import Cli
from .helpers import CLI, TIMEOUT, TOKEN, env

ATTEMPT = re.compile(r"^trace: (GET|PUT|POST|DELETE) (/v2/\S*) (\d{3}|[a-z ]+ after) \d+ ms$")


def _traced(err: str) -> list[str]:
    lines = [line for line in err.splitlines() if line.startswith("trace: ")]
    assert TOKEN not in err
    return lines


async def test_one_line_per_attempt_with_the_query(emu: Emulator, cli: Cli) -> None:
    result = await cli("--trace", "images", "list", "--private", "--per-page", "3")
    assert result.code == 0, result.err
    lines = _traced(result.err)
    assert len(lines) == len(emu.requests) == 2  # five private images, three a page
    for line, request in zip(lines, emu.requests, strict=True):
        match = ATTEMPT.match(line)
        assert match is not None, line
        assert match.group(2).startswith("/v2/images?private=true&page=")
        assert match.group(3) == str(request.status)
    assert result.err.splitlines() == lines  # nothing else on stderr


@pytest.mark.parametrize(
    "command",
    [
        ("images", "get", "ubuntu-24-04-x64"),
        ("images", "delete", "--force", "{snapshot}", "999999999"),
        ("images", "update", "{snapshot}", "--name", "renamed"),
        ("actions", "transfer", "{snapshot}", "--region", "ams3", "--wait",
         "--poll-interval", "0.01"),
        ("actions", "list", "{snapshot}"),
        ("transfers", "create", "{snapshot}", "--email", "bob@example.com"),
        ("images", "prune", "--keep", "1", "--name-prefix", "web-01", "--force"),
        ("rate-limit",),
    ],
    ids=lambda c: "-".join(c[:2]),
)  # fmt: skip
async def test_trace_works_with_every_command(
    emu: Emulator, cli: Cli, command: tuple[str, ...]
) -> None:
    snapshot = emu.add_image(kind="snapshot", name="scratch").id
    args = [part.format(snapshot=snapshot) for part in command]
    result = await cli("--trace", *args)
    lines = _traced(result.err)
    assert len(lines) == len(emu.requests) >= 1
    for line, request in zip(lines, emu.requests, strict=True):
        assert line.startswith(f"trace: {request.method} {request.path}"), line
        assert line.split()[-3] == str(request.status)


async def test_a_retry_is_traced_and_announced_with_its_reason(emu: Emulator, cli: Cli) -> None:
    emu.inject(Fault(kind="status", status=503, times=1))
    traced = await cli("--trace", "images", "get", "ubuntu-24-04-x64")
    assert traced.code == 0, traced.err
    lines = _traced(traced.err)
    assert lines[0].startswith("trace: GET /v2/images/ubuntu-24-04-x64 503 ")
    assert re.fullmatch(r"trace: GET /v2/images/ubuntu-24-04-x64: 503; retry 1/5 in \d+\.\d s",
                        lines[1])  # fmt: skip
    assert lines[2].startswith("trace: GET /v2/images/ubuntu-24-04-x64 200 ")
    emu.inject(Fault(kind="status", status=429, times=1, headers={"retry-after": "1"}))
    quiet = await cli("images", "get", "ubuntu-24-04-x64")
    assert quiet.code == 0, quiet.err
    assert re.fullmatch(
        r"do-images: GET /v2/images/ubuntu-24-04-x64: 429 rate limited; retry 1/5 in \d\.\d s\n",
        quiet.err,
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_refused_connection_is_announced_at_once(caplog: pytest.LogCaptureFixture) -> None:
    # It used to be ~11 s of silence while five retries ran.
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "--api-url", f"http://127.0.0.1:{_closed_port()}", "-t", TOKEN, "rate-limit",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        first = (await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)).decode()
        announced = time.monotonic() - started
        assert re.fullmatch(r"do-images: GET /v2/images: connection refused; retry 1/5 in "
                            r"\d\.\d s\n", first), first  # fmt: skip
        # The process starts Python and imports the SDK first; the retries alone take ~8 s.
        assert announced < 4.0
        rest = (await asyncio.wait_for(proc.stderr.read(), TIMEOUT)).decode().splitlines()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    assert [line.split("; ")[1].split(" in ")[0] for line in rest[:4]] == [
        f"retry {n}/5" for n in range(2, 6)
    ]
    assert rest[-1].endswith("Connection refused")
    # asyncio reports 255 when something else in this process reaped the child first (it logs
    # "Unknown child process pid"; seen on loaded CI runs): then the exit code is unknowable
    # here, and the last line above is what the command said.
    if "Unknown child process pid" not in caplog.text:
        assert proc.returncode == 3
