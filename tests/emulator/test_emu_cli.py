"""``python -m do_images.testing`` in a subprocess, ``serve()`` arguments, and the pytest plugin."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from do_images.testing import Emulator, serve

READY = "serving DigitalOcean Images API emulator on "


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, URL]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "do_images.testing", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith(READY), line
    return proc, URL(line[len(READY) :].strip())


async def test_cli_serves_until_terminated() -> None:
    started = time.monotonic()
    proc, url = await _start(
        "--no-seed", "--images", "100000", "--latency-ms", "5", "--rate-limit", "1000/60"
    )
    try:
        assert time.monotonic() - started < 15  # 100,000 images load fast
        assert url.host == "127.0.0.1"
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer t"}) as session:
            params = {"page": "400", "per_page": "200"}
            async with session.get(url / "v2/images", params=params) as resp:
                body = await resp.json()
                assert resp.status == 200
                assert resp.headers["ratelimit-limit"] == "1000"
        assert body["meta"]["total"] == 100_000
        assert len(body["images"]) == 200
        assert "next" in body["links"]["pages"]
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_cli_seeded_without_rate_limit() -> None:
    proc, url = await _start("--no-rate-limit")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer t"}) as session:
            async with session.get(url / "v2/images/ubuntu-24-04-x64") as resp:
                assert resp.status == 200
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


@pytest.mark.parametrize(
    "argv", [["--rate-limit", "nope"], ["--rate-limit", "0/60"], ["--port", "x"]]
)
def test_serve_rejects_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        serve(argv)
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_serve_rejects_negative_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve(["--images", "-1"]) == 2
    assert "negative" in capsys.readouterr().err


def test_pytest_plugin_fixture(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["do_images.testing.pytest_plugin"]\n')
    (tmp_path / "test_uses_fixture.py").write_text(
        textwrap.dedent(
            """
            import aiohttp

            async def test_fixture(do_images_emulator):
                url = do_images_emulator.url / "v2/images"
                headers = {"Authorization": "Bearer t"}
                async with aiohttp.ClientSession(headers=headers) as session:
                    async with session.get(url, params={"type": "distribution"}) as resp:
                        assert resp.status == 200
                        assert (await resp.json())["meta"]["total"] > 10
                assert do_images_emulator.requests[0].path == "/v2/images"
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
         "-o", "asyncio_default_fixture_loop_scope=function",
         "-W", "error", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


async def test_cli_accounts_print_email_and_team_and_own_the_seed() -> None:
    proc, url = await _start("--account", "alice-token=alice", "--account", "bob-token=bob")
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(2)]
        emu = Emulator()  # team uuids are deterministic: the same for every emulator
        for line, name in zip(lines, ("alice", "bob"), strict=True):
            assert line.startswith(f"account {name} ")
            assert f"email {name}@example.com" in line
            assert f"team uuid {emu.account_uuid(name)}" in line
            assert "-token" not in line  # the tokens are not repeated
        async with aiohttp.ClientSession() as session:
            for token, status, total in (("alice-token", 200, 5), ("bob-token", 200, 0)):
                headers = {"Authorization": f"Bearer {token}"}
                params = {"private": "true"}
                async with session.get(url / "v2/images", params=params, headers=headers) as resp:
                    assert resp.status == status
                    assert (await resp.json())["meta"]["total"] == total  # seed is alice's
            async with session.get(url / "v2/images", headers={"Authorization": "Bearer x"}) as r:
                assert r.status == 401
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_cli_without_accounts_prints_the_default_one() -> None:
    proc, _ = await _start("--no-seed")
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("account default (any token): email default@example.com")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


@pytest.mark.parametrize("argv", [["--account", "no-equals"], ["--account", "t="]])
def test_serve_rejects_bad_accounts(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        serve(argv)
    assert exc.value.code == 2
    assert "TOKEN=NAME" in capsys.readouterr().err


def test_help_names_the_program_that_was_run() -> None:
    for program, name in (
        ((sys.executable, "-m", "do_images.testing"), "python -m do_images.testing"),
        ((sys.executable, "-m", "do_images", "emulator"), "do-images emulator"),
    ):
        done = subprocess.run(
            [*program, "--help"], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0
        assert done.stdout.startswith(f"usage: {name} ")
        assert "NAME@example.com" in done.stdout  # the email rule
