"""The code blocks of README.md and docs/**/*.md, as the block runner and the type check read them.

- ```python: a complete script, run on its own (it starts its own emulator); a block whose
  first line names a file (``# conftest.py``, ``# test_x.py``) belongs to a small pytest
  project made of the page's named blocks.
- ```sh: commands run as is (``uv run X`` runs the venv's ``X``).
- ```text right after a python or sh block (blank lines between allowed): lines that must
  appear in that block's output; ``…`` inside a line stands for any text, a line ``...`` for
  lines left out.
- Any other language (```py for a signature, ```console, ```toml, ```diff) is shown, not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NAMED = re.compile(r"# ([\w./-]+\.py)\n")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and code, and the output shown after it."""

    page: Path
    line: int
    language: str
    code: str
    output: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def file_name(self) -> str | None:
        """The file a named python block becomes in its page's pytest project."""
        match = NAMED.match(self.code)
        return match.group(1) if match else None


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found: list[Block] = []
    previous_end = -1
    for match in FENCE.finditer(text):
        language, code = match.group(1), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        between = text[previous_end : match.start()] if previous_end >= 0 else "x"
        if language == "text" and found and found[-1].language in ("python", "sh"):
            if not between.strip() and found[-1].output is None:
                last = found.pop()
                found.append(Block(last.page, last.line, last.language, last.code, code))
                previous_end = match.end()
                continue
        found.append(Block(page, line, language, code))
        previous_end = match.end()
    return found


def every_block() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


def scripts() -> list[Block]:
    """Every python block that is a complete script (not part of a pytest project)."""
    return [b for b in every_block() if b.language == "python" and not b.file_name]


def projects() -> dict[Path, list[Block]]:
    """Each page's named python blocks: the files of one pytest project."""
    found: dict[Path, list[Block]] = {}
    for block in every_block():
        if block.language == "python" and block.file_name:
            found.setdefault(block.page, []).append(block)
    return found


def shows(output: str, expected: str) -> list[str]:
    """The lines of `expected` missing from `output` (``…`` matches any text in a line)."""
    missing = []
    for line in expected.splitlines():
        if not line.strip() or line.strip() == "...":
            continue
        pattern = ".*".join(re.escape(part) for part in line.split("…"))
        if not re.search(pattern, output, flags=re.M):
            missing.append(line)
    return missing
