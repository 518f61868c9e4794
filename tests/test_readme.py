"""Every code block in README.md runs here, so the documentation cannot drift from the code.

- `python` snippets run in order, in one namespace, with top-level `await` and a `client`
  bound to a seeded emulator; a block that calls `asyncio.run` runs as a script in a
  subprocess; blocks whose first line names a file (`# conftest.py`) become a pytest project.
- `sh` lines run as commands; `uv run X` runs the venv's `X` (the same entry point). The
  test command itself cannot run inside the tests: `.ci/run` runs that exact line.
- `text` blocks show output; the first command's sample lines must appear in its real output.
- The benchmark commands run with the extra arguments in QUICK: the same code on a few
  pages, writing to a temporary folder (the full runs take minutes and are not timed tests).

Every example talks to 127.0.0.1 only: a `do_images.Client(` without `base_url` gets the
emulator's URL, and the Redis examples' URL becomes `$DO_IMAGES_REDIS_URL` when it is set:
the only textual changes made to an example before it runs.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import do_images
from do_images.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.S | re.M)
FIRST_COMMAND = "uv run do-images --emulator images list --type distribution"
TEST_COMMAND = "uv run pytest"
BIN = Path(sys.executable).parent
README_REDIS = "redis://localhost:6379/0"
QUICK = {
    "uv run --extra bench python -m benchmarks": (
        "--runs 1 --pages 3 --cpu-pages 3 --stream 400 800 --concurrency 2 --no-peers "
        "--accounts 3 --account-pages 2 --out {tmp}"
    ),
    "uv run python benchmarks/rate_limited_crawl.py": (
        "--pages 12 --limit 10 --window 0.3 --per-page 5 --concurrency 4"
    ),
    "uv run python benchmarks/fleet.py": (
        "--processes 2 --pages 2 --limit 2 --window 2 --per-page 5"
    ),
}


def _blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCKS if lang == language]


def _pointed_at(code: str, url: str) -> str:
    return code.replace("do_images.Client()", f"do_images.Client(base_url={url!r})")


def _is_script(code: str) -> bool:
    return "asyncio.run(" in code


def _names_a_file(code: str) -> str | None:
    match = re.match(r"# (\S+\.py)\n", code)
    return match.group(1) if match else None


async def _run(*argv: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    snippets = [c for c in _blocks("python") if not _is_script(c) and not _names_a_file(c)]
    assert len(snippets) >= 8
    assert any(_is_script(c) for c in _blocks("python"))
    assert {_names_a_file(c) for c in _blocks("python")} >= {"conftest.py", "test_my_images.py"}
    assert FIRST_COMMAND in _blocks("sh")[0]
    assert TEST_COMMAND in _blocks("sh")[0]


async def test_python_snippets_run_in_order() -> None:
    tokens = {"readme-token": "default", "ops-token": "ops"}
    async with Emulator(rate_limits=(), tokens=tokens) as emu:
        async with (
            do_images.Client("readme-token", base_url=emu.url) as client,
            do_images.Client("ops-token", base_url=emu.url) as recipient,
        ):
            namespace: dict[str, Any] = {
                "client": client,
                "do_images": do_images,
                "recipient": recipient,
                "team_uuid": emu.account_uuid("ops"),
            }
            for code in _blocks("python"):
                if _is_script(code) or _names_a_file(code):
                    continue
                # The Redis examples use the test run's redis-server where there is one (CI
                # has); elsewhere they show the documented fallback to in-process limits.
                code = code.replace(
                    README_REDIS, os.environ.get("DO_IMAGES_REDIS_URL", README_REDIS)
                )
                compiled = compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
                result = eval(compiled, namespace)  # the README's own example code
                if asyncio.iscoroutine(result):
                    await result
    # What the snippets left behind is what the README says they do.
    assert namespace["image"].name == "arch-cloud-2025"
    assert namespace["image"].status == "available"
    assert namespace["again"].status == "completed"
    assert namespace["count"] > 0
    assert "ubuntu-24-04-x64" in namespace["slugs"]
    assert namespace["offered"] > 0
    assert emu.owner(namespace["snapshots"][1].id) == "ops"
    assert emu.owner(namespace["snapshots"][2].id) == "ops"
    assert emu.owner(namespace["snapshots"][0].id) == "default"
    assert namespace["per_account"] == {"web": 4, "ops": 2}  # as the README prints it
    assert namespace["traced_statuses"] == [200]
    assert namespace["rest"] == [i.id for i in namespace["everything"]][20:]


async def test_the_quickstart_script_prints_distributions() -> None:
    (script,) = [c for c in _blocks("python") if _is_script(c)]
    async with Emulator(rate_limits=()) as emu:
        code, out = await _run(
            sys.executable, "-c", _pointed_at(script, str(emu.url)), env={"DIGITALOCEAN_TOKEN": "t"}
        )
    assert code == 0, out
    assert "ubuntu-24-04-x64 2024-09-24 19:02:35+00:00" in out
    assert ("GET", "/v2/images") in {(r.method, r.path) for r in emu.requests}


async def test_the_pytest_example_passes(tmp_path: Path) -> None:
    for code in _blocks("python"):
        name = _names_a_file(code)
        if name:
            (tmp_path / name).write_text(code)
    code, out = await _run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path
    )
    assert code == 0, out
    assert "2 passed" in out


def _commands() -> list[str]:
    lines = [line.strip() for code in _blocks("sh") for line in code.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_quick_variants_name_real_readme_commands() -> None:
    assert set(QUICK) <= set(_commands())


def test_the_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert TEST_COMMAND in _commands()
    assert any(line.startswith(TEST_COMMAND) for line in ci)
    assert FIRST_COMMAND in ci


@pytest.mark.parametrize("command", [c for c in _commands() if c != TEST_COMMAND])
async def test_shell_commands_run(command: str, tmp_path: Path) -> None:
    argv = command.split()
    if command in QUICK:
        argv += QUICK[command].format(tmp=tmp_path).split()
    if argv[:2] == ["uv", "run"]:
        argv = argv[2:]
        if argv[0] == "--extra":
            argv = argv[2:]  # the bench extra is installed by `uv sync --all-extras`
        argv = [str(BIN / argv[0]), *argv[1:]]
    code, out = await _run(*argv)
    assert code == 0, out
    if command == FIRST_COMMAND:
        (sample,) = _blocks("text")[:1]
        for line in sample.splitlines():
            if line != "...":
                assert line in out
