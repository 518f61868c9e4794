"""Options before or after the subcommand, one name per meaning, rate-limit flags, and
messages that say what happened (what was not found, whose token, which scheme)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time

import pytest

from do_images.testing import Emulator, Fault

from .conftest import Cli
from .helpers import TOKEN, arun, env, on_terminal, one_error_line


async def test_global_options_after_the_subcommand(emu: Emulator) -> None:
    result = await arun("images", "list", "--type", "application", "--base-url", str(emu.url),
                        "--token", TOKEN, "-o", "jsonl", "--max-retries", "0")  # fmt: skip
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 10
    later_wins = await arun("--base-url", str(emu.url), "--token", TOKEN, "-o", "json",
                            "images", "get", "ubuntu-24-04-x64", "-o", "jsonl")  # fmt: skip
    assert later_wins.out.count("\n") == 1
    assert json.loads(later_wins.out)["slug"] == "ubuntu-24-04-x64"


async def test_timeout_after_the_subcommand_is_still_per_request(emu: Emulator, cli: Cli) -> None:
    emu.inject(Fault(kind="latency", delay=1.0, times=None))
    started = time.monotonic()
    result = await cli(
        "images", "get", "ubuntu-24-04-x64", "--timeout", "0.2", "--max-retries", "0"
    )
    assert result.code == 3
    assert time.monotonic() - started < 5
    assert "timed out (--timeout 0.2 s per attempt)" in one_error_line(result)


async def test_wait_timeout_bounds_waits_and_timeout_does_not(cli: Cli, emu: Emulator) -> None:
    new = emu.add_image(kind="custom", status="NEW").id  # an import that never ends
    bounded = await cli("images", "wait", str(new), "--wait-timeout", "0.4",
                        "--poll-interval", "0.1", "--timeout", "30")  # fmt: skip
    assert bounded.code == 4
    assert "NEW" in one_error_line(bounded)


async def test_rate_limit_windows_slow_the_client(emu: Emulator, cli: Cli) -> None:
    args = ("images", "list", "--type", "distribution", "--per-page", "3", "-o", "jsonl")
    started = time.monotonic()
    limited = await cli(*args, "--rate-limit", "2/1", "--rate-limit", "100/60")
    elapsed = time.monotonic() - started
    assert limited.code == 0, limited.err
    assert len(limited.out.splitlines()) == 18
    # 6 pages at 2 a second: the 3rd and 5th waits about a second each (a margin aside).
    assert elapsed >= 1.8
    assert not [r for r in emu.requests if r.status == 429]
    off = await cli(*args, "--no-rate-limit")
    assert off.code == 0
    assert off.out == limited.out


async def test_base_url_with_v2_works(emu: Emulator) -> None:
    for suffix in ("/v2", "/v2/"):
        result = await arun("--base-url", f"{emu.url}{suffix}", "--token", TOKEN,
                            "images", "get", "debian-12-x64")  # fmt: skip
        assert result.code == 0, result.err
        assert "debian-12-x64" in result.out
    assert {r.path for r in emu.requests} == {"/v2/images/debian-12-x64"}


@pytest.mark.parametrize(
    ("how", "source"),
    [
        ("--token", "--access-token"),
        ("DIGITALOCEAN_TOKEN", "$DIGITALOCEAN_TOKEN"),
        ("DIGITALOCEAN_ACCESS_TOKEN", "$DIGITALOCEAN_ACCESS_TOKEN"),
    ],
)
async def test_401_names_the_token_source_never_the_token(how: str, source: str) -> None:
    wrong = "dop_v1_wrong-SECRET-value"
    async with Emulator(tokens={"right": "a"}) as emu:
        args = ["--base-url", str(emu.url), "images", "list"]
        extra = {} if how == "--token" else {how: wrong}
        if how == "--token":
            args += ["--token", wrong]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "do_images", *args, "-v",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env(), **extra},
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 3
    last = err.decode().splitlines()[-1]
    assert last.startswith("do-images: error: 401 unauthorized")
    assert f"the token came from {source}" in last
    assert wrong not in (out + err).decode()
    assert "SECRET" not in (out + err).decode()


async def test_connection_errors_name_the_scheme_used() -> None:
    result = await arun("--base-url", "http://127.0.0.1:9", "--token", TOKEN,
                        "--max-retries", "0", "images", "get", "1")  # fmt: skip
    assert result.code == 3
    line = one_error_line(result)
    assert re.search(r"cannot connect to http://127\.0\.0\.1:9: \w+", line), line
    assert "ssl" not in line


async def test_allow_insecure_http_is_the_flag_the_error_names() -> None:
    refused = await arun("--base-url", "http://0.0.0.0:9", "--token", TOKEN, "images", "get", "1")
    assert refused.code == 2
    assert "pass --allow-insecure-http" in one_error_line(refused)
    allowed = await arun("--base-url", "http://0.0.0.0:9", "--token", TOKEN, "--max-retries",
                         "0", "--allow-insecure-http", "images", "get", "1")  # fmt: skip
    assert allowed.code == 3  # sent (and refused by the closed port), not refused by the SDK
    assert "cannot connect to http://0.0.0.0:9" in one_error_line(allowed)


async def test_not_found_says_what(emu: Emulator, cli: Cli) -> None:
    snapshot = str(emu.add_image(kind="snapshot").id)
    cases = [
        (("images", "get", "no-such-slug"), "image with slug 'no-such-slug' not found (404, "),
        (("images", "update", "999999999", "--name", "x"), "image 999999999 not found (404, "),
        (("actions", "get", snapshot, "42"), f"action 42 of image {snapshot} not found (404, "),
        (("actions", "list", "999999999"), "image 999999999 not found (404, "),
        (("actions", "convert", "999999999"), "image 999999999 not found (404, "),
        (("transfers", "cancel", snapshot, "--transfer-id", "5"),
         f"transfer 5 of image {snapshot} not found (404, "),
    ]  # fmt: skip
    for args, needle in cases:
        result = await cli(*args)
        assert result.code == 3, args
        assert needle in one_error_line(result), args
        assert result.out == ""


async def test_rate_limit_waits_are_shown(emu: Emulator, cli: Cli) -> None:
    args = ("images", "list", "--type", "distribution", "--per-page", "5", "--rate-limit", "2/3")
    verbose = await cli("-v", "-o", "jsonl", *args)
    assert verbose.code == 0, verbose.err
    assert re.search(r"INFO waiting [23] s for the rate limit", verbose.err), verbose.err
    screen = await on_terminal("--base-url", str(emu.url), "--token", TOKEN, *args,
                               stdout_on_terminal=False)  # fmt: skip
    assert screen.code == 0
    assert re.search(r"\x1b\[Kwaiting [0-3] s for the rate limit", screen.shown), screen.shown


async def test_proxies_come_from_the_environment(emu: Emulator) -> None:
    # The emulator stands in for the proxy: it serves the absolute-form request it is sent.
    # The API's host is never resolved (the proxy would do that), so nothing leaves 127.0.0.1.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "do_images", "--base-url", "http://api.example.invalid",
        "--allow-insecure-http", "--token", TOKEN, "--max-retries", "0",
        "images", "get", "ubuntu-24-04-x64", "-o", "json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**env(), "HTTP_PROXY": str(emu.url), "NO_PROXY": ""},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err
    assert json.loads(out)["slug"] == "ubuntu-24-04-x64"
    assert [r.path for r in emu.requests] == ["/v2/images/ubuntu-24-04-x64"]
