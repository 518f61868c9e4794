"""A typed user's code passes `mypy --strict` and pyright strict with 0 errors: a user script
touching every part of the API, and every python block of README.md and docs/ (extracted to
files as the block runner reads them). The user script also runs, against the emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .support import docblocks
from .support.docblocks import ROOT

BIN = Path(sys.executable).parent

# A first script as a typed user writes it: list, get, delete, wait, transfer, errors, the rate
# limit, pages.
USER_SCRIPT = """\
import asyncio

import do_images
from do_images.testing import Emulator


async def tidy(client: do_images.Client) -> list[str]:
    said: list[str] = []
    async for image in client.images.list(private=True, type=None):
        if image.type == "backup" and len(image.regions) == 1:
            await client.images.delete(image.id)
            said.append(f"deleted {image.id} from {image.regions[0]}")
    ubuntu = await client.images.get("ubuntu-24-04-x64")
    said.append(f"{ubuntu.slug} {ubuntu.created_at:%Y-%m-%d} {','.join(ubuntu.tags)}")
    new = await client.images.create(name="app", url="https://example.com/a.img", region="nyc3")
    ready = await client.images.wait(new, timeout=60, poll_interval=0.01)
    action = await client.image_actions.transfer(ready.id, region="ams3")
    done = await client.image_actions.wait(ready.id, action, poll_interval=0.01)
    said.append(f"{done.type} {done.status} {sorted(ready.regions)}")
    try:
        await client.images.get(404404)
    except do_images.NotFoundError as error:
        said.append(f"{error.status} {error.request_id is not None}")
    except do_images.RateLimitError as error:
        said.append(f"wait until {error.reset_at}")
    if client.rate_limit is not None and client.rate_limit.remaining is not None:
        said.append(f"{client.rate_limit.remaining} requests left")
    async for page in client.images.list(type="application", per_page=5).pages():
        said.append(f"page {page.page}: {len(page.items)} of {page.total}")
    return said


async def main() -> None:
    async with Emulator() as emu, do_images.Client("any-token", base_url=emu.url) as client:
        print("\\n".join(await tidy(client)))


asyncio.run(main())
"""
PYRIGHT_CONFIG = {"typeCheckingMode": "strict", "pythonVersion": "3.11"}


def _write_examples(folder: Path) -> list[Path]:
    """Every script as its own file, each pytest project in its own folder: the roots to check."""
    scripts = folder / "scripts"
    scripts.mkdir()
    (scripts / "user_script.py").write_text(USER_SCRIPT)
    for block in docblocks.scripts():
        name = block.where.replace("/", "_").replace(".md:", "_line") + ".py"
        (scripts / name.replace("-", "_")).write_text(block.code)
    roots = [scripts]
    for number, files in enumerate(docblocks.projects().values()):
        project = folder / f"project{number}"
        project.mkdir()
        for block in files:
            assert block.file_name is not None
            (project / block.file_name).write_text(block.code)
        roots.append(project)
    return roots


def _check(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _write_examples(tmp_path_factory.mktemp("examples"))


def test_the_examples_are_all_there(examples: list[Path]) -> None:
    scripts = list(examples[0].glob("*.py"))
    assert len(scripts) == 1 + len(docblocks.scripts()) >= 10
    assert len(USER_SCRIPT.splitlines()) <= 45


def test_examples_pass_mypy_strict(examples: list[Path]) -> None:
    cache = ROOT / ".mypy_cache" / "examples"
    for root in examples:  # one run per folder: each project has its own conftest module
        out = _check(
            [
                str(BIN / "mypy"),
                "--strict",
                "--cache-dir",
                str(cache),
                "--python-version",
                "3.11",
                "--python-executable",
                sys.executable,
                ".",
            ],
            cwd=root,
        )
        assert "Success: no issues found" in out


def test_examples_pass_pyright_strict(examples: list[Path]) -> None:
    folder = examples[0].parent
    (folder / "pyrightconfig.json").write_text(json.dumps(PYRIGHT_CONFIG))
    out = _check([str(BIN / "pyright"), "--pythonpath", sys.executable, "."], cwd=folder)
    assert "0 errors" in out


def test_the_user_script_runs(tmp_path: Path) -> None:
    (tmp_path / "user_script.py").write_text(USER_SCRIPT)
    out = _check([sys.executable, "user_script.py"], cwd=tmp_path)
    assert "deleted 160000032 from nyc3" in out
    assert "ubuntu-24-04-x64 2024-09-24 " in out
    assert "transfer completed ['nyc3']" in out  # the image as it was before the transfer
    assert "404 True" in out
    assert "page 2: 5 of 10" in out
