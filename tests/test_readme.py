"""Every code block in README.md and docs/**/*.md runs here, each on its own, so the
documentation cannot drift from the code (the conventions are in tests/support/docblocks.py).

- A python script runs in a subprocess in an empty folder; it starts its own emulator. A page's
  named blocks (``# conftest.py``, ``# test_x.py``) become one pytest project that must pass.
- sh commands run as is; ``uv run X`` runs the venv's ``X`` (the same entry point). The test
  command itself cannot run inside the tests: `.ci/run` runs that exact line.
- The benchmark commands run with the extra arguments in QUICK: the same code on a few pages,
  writing to a temporary folder (the full runs take minutes and are not timed tests).
- A text block after a script or commands lists lines their output must show.

Every example talks to 127.0.0.1 only. The one textual change made to an example before it runs:
`redis://localhost:6379/0` becomes the test run's Redis (`$DO_IMAGES_REDIS_URL`, else a
`redis-server` the tests start); without one, such a block skips, saying how to enable it.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import do_images

from .support import docblocks
from .support.docblocks import README, ROOT, Block
from .support.redis_server import redis_url_for_tests

FIRST_COMMAND = "uv run do-images --emulator images list --type distribution"
TEST_COMMAND = "uv run pytest"
BIN = Path(sys.executable).parent
DOCS_REDIS = "redis://localhost:6379/0"
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
SCRIPTS = docblocks.scripts()
PROJECTS = docblocks.projects()
COMMANDS = [b for b in docblocks.every_block() if b.language == "sh"]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """The test run's Redis: $DO_IMAGES_REDIS_URL, else a redis-server started here."""
    yield from redis_url_for_tests()


async def _run(*argv: str, cwd: Path = ROOT) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        cwd=cwd,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


def _check_output(block: Block, out: str) -> None:
    if block.output is not None:
        missing = docblocks.shows(out, block.output)
        assert not missing, f"{block.where}: output lacks {missing}\n--- output:\n{out}"


# --- the blocks, each on its own --------------------------------------------------------------


@pytest.mark.parametrize("block", SCRIPTS, ids=lambda b: b.where)
async def test_python_script_runs(
    block: Block, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    code = block.code
    if DOCS_REDIS in code:
        code = code.replace(DOCS_REDIS, request.getfixturevalue("redis_url"))
    (tmp_path / "example.py").write_text(code)
    status, out = await _run(sys.executable, "example.py", cwd=tmp_path)
    assert status == 0, f"{block.where} failed:\n{out}"
    _check_output(block, out)


@pytest.mark.parametrize("page", list(PROJECTS), ids=lambda p: str(p.relative_to(ROOT)))
async def test_pytest_project_passes(page: Path, tmp_path: Path) -> None:
    files = PROJECTS[page]
    for block in files:
        assert block.file_name is not None
        (tmp_path / block.file_name).write_text(block.code)
    tests = sum(len(re.findall(r"^(?:async )?def test_", b.code, flags=re.M)) for b in files)
    status, out = await _run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path
    )
    assert status == 0, out
    assert re.search(rf"\b{tests} passed", out), out
    assert "skipped" not in out, out
    _check_output(files[-1], out)


def _argv(command: str, tmp: Path) -> list[str]:
    if command in QUICK:
        command += " " + QUICK[command].format(tmp=tmp)
    argv = shlex.split(command)
    if argv[:2] == ["uv", "run"]:
        argv = argv[2:]
        if argv[0] == "--extra":
            argv = argv[2:]  # the bench extra's peers are not run (--no-peers)
        argv = [str(BIN / argv[0]), *argv[1:]]
    return argv


def _lines(block: Block) -> list[str]:
    lines = [line.strip() for line in block.code.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("block", COMMANDS, ids=lambda b: b.where)
async def test_shell_commands_run(block: Block, tmp_path: Path) -> None:
    outputs = []
    for command in _lines(block):
        if command == TEST_COMMAND:
            continue  # .ci/run runs it (see test_the_two_commands_are_what_ci_runs_first)
        status, out = await _run(*_argv(command, tmp_path))
        assert status == 0, f"{block.where}: {command}\n{out}"
        outputs.append(out)
    if not any(command in QUICK for command in _lines(block)):
        _check_output(block, "\n".join(outputs))  # a QUICK run's figures differ from the page's


# --- what the runner relies on ----------------------------------------------------------------


def test_the_pages_have_the_blocks_this_test_runs() -> None:
    assert len(SCRIPTS) >= 10
    readme = docblocks.blocks(README)
    assert FIRST_COMMAND in _lines(next(b for b in readme if b.language == "sh"))
    assert {b.file_name for b in PROJECTS[README]} == {"conftest.py", "test_my_images.py"}
    # Every script that starts an emulator says so, and none needs a real token.
    for block in SCRIPTS:
        assert "asyncio.run(" in block.code, block.where


def test_the_output_check_can_fail() -> None:
    assert docblocks.shows("404 not_found 4d9d8375-aa", "404 not_found 4d9d8375-…") == []
    assert docblocks.shows("404 not_found", "500 oops\n...") == ["500 oops"]


def test_every_documented_benchmark_runs_quick() -> None:
    documented = {line for block in COMMANDS for line in _lines(block)}
    # No benchmark runs full size inside the tests, and each quick variant names real code.
    assert {line for line in documented if "benchmarks" in line} <= set(QUICK)
    for command in QUICK:
        target = command.split()[-1]
        assert (ROOT / target).exists() or (ROOT / target.replace(".", "/")).is_dir(), command


def test_the_two_commands_are_what_ci_runs_first() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in ci.splitlines()]
    # Each runs exactly as the README writes it (output teed to a log)…
    assert f"{FIRST_COMMAND} | tee" in ci
    assert f"\n  {TEST_COMMAND} 2>&1 | tee" in ci
    # …as the first stages that run uv, before anything installs extras.
    stages = [line for line in lines if line.startswith("stage ")]
    ends = (" first_command", " test_command")
    order = [i for i, line in enumerate(stages) if line.endswith(ends)]
    synced = next(i for i, line in enumerate(stages) if "uv sync" in line)
    assert order == [2, 3], stages  # after the prerequisites and redis-server
    assert synced > 3, stages
    assert TEST_COMMAND in _lines(next(b for b in docblocks.blocks(README) if b.language == "sh"))


# --- the README as a front door -----------------------------------------------------------------


def test_the_readme_is_short_with_a_table_of_contents() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 400
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    for heading in headings[1:]:
        anchor = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        assert f"(#{anchor})" in contents, heading
    assert "Python 3.11+" in text


def test_local_links_in_the_readme_lead_somewhere() -> None:
    for target in re.findall(r"\]\(((?!https?:|#)[^)#]+)", README.read_text()):
        assert (ROOT / target).exists(), target


def _documented_signature() -> ast.arguments:
    (block,) = [
        b for b in docblocks.blocks(README) if b.language == "py" and "do_images.Client(" in b.code
    ]
    inner = block.code.split("(", 1)[1].rsplit(")", 1)[0]
    function = ast.parse(f"def Client({inner}): ...").body[0]
    assert isinstance(function, ast.FunctionDef)
    return function.args


def _shown(default: ast.expr) -> object:
    # A value written as arithmetic (`16 * 2**20`) is evaluated with nothing else in reach.
    return eval(ast.unparse(default), {"__builtins__": {}})  # the README's own literal


def test_the_documented_client_signature_is_the_real_one() -> None:
    documented = _documented_signature()
    real = inspect.signature(do_images.Client).parameters
    shown = [(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in documented.args]
    shown += [(a, inspect.Parameter.KEYWORD_ONLY) for a in documented.kwonlyargs]
    assert [(a.arg, kind) for a, kind in shown] == [(p.name, p.kind) for p in real.values()]
    defaults = [*documented.defaults, *documented.kw_defaults]
    for (arg, _), default in zip(shown, defaults, strict=True):
        parameter = real[arg.arg]
        assert arg.annotation is not None, arg.arg
        assert default is not None, arg.arg
        assert ast.unparse(arg.annotation) == parameter.annotation, arg.arg
        if isinstance(default, ast.Constant) and default.value is Ellipsis:
            # `...`: a default that is an object, not a value (a test seam's real function).
            assert callable(parameter.default) or parameter.default is not None, arg.arg
        else:
            assert _shown(default) == parameter.default, arg.arg
