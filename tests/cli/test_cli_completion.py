"""``do-images completion bash|zsh|fish``: scripts a shell accepts, and a real bash completing
commands, options and ``--format`` columns."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import env, run

BASH = shutil.which("bash")


def _script(shell: str) -> str:
    result = run("completion", shell)
    assert result.code == 0, result.err
    assert result.err == ""
    return result.out


def _complete(script: str, line: str, **extra_env: str) -> list[str]:
    """What bash's completion offers for the last word of `line` (a real bash, the script
    sourced, the function `complete -p` names called as readline would)."""
    assert BASH is not None
    words = line.split(" ")
    program = (
        'source /dev/stdin\n'
        'spec=$(complete -p do-images)\n'
        'function=${spec#*-F }; function=${function%% *}\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))\n'
        'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}\n'
        '"$function" do-images "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )  # fmt: skip
    done = subprocess.run(
        [BASH, "-c", program, "bash", *words],
        input=script, capture_output=True, text=True, timeout=30, check=True,
        env=env(**extra_env),
    )  # fmt: skip
    return [word.strip() for word in done.stdout.splitlines() if word.strip()]


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_script_parses_and_completes_commands_options_and_columns() -> None:
    script = _script("bash")
    checked = subprocess.run([BASH, "-n"], input=script, capture_output=True, text=True,
                             timeout=30, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert _complete(script, "do-images im") == ["images"]
    assert set(_complete(script, "do-images images ")) >= {"list", "get", "delete", "prune"}
    assert "--format" in _complete(script, "do-images images list --fo")
    assert _complete(script, "do-images images list --format I") == ["ID"]
    assert set(_complete(script, "do-images actions list --format ")) >= {"ID", "RESOURCE_ID"}
    assert "--access-token" in _complete(script, "do-images --acc")
    assert _complete(script, "do-images completion f") == ["fish"]


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_completes_context_names_from_doctls_config(tmp_path: Path) -> None:
    if shutil.which("do-images") is None:
        pytest.skip("the do-images command is not on PATH (run the tests with `uv run`)")
    (tmp_path / "doctl").mkdir()
    (tmp_path / "doctl" / "config.yaml").write_text(
        "auth-contexts:\n  acme: SECRET-a\n  beta: SECRET-b\ncontext: acme\n"
    )
    script = _script("bash")
    offered = _complete(script, "do-images images list --context ", XDG_CONFIG_HOME=str(tmp_path))
    assert offered == ["acme", "beta", "default"]
    assert _complete(script, "do-images --context b", XDG_CONFIG_HOME=str(tmp_path)) == ["beta"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell: str) -> None:
    script = _script(shell)
    assert "do-images" in script
    assert "--format" in script
    program = shutil.which(shell)
    if program is None:
        pytest.skip(f"{shell} is not installed: the script was generated, not parsed")
    checked = subprocess.run([program, "-n"], input=script, capture_output=True, text=True,
                             timeout=30, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = run("completion", "powershell")
    assert result.code == 2
    assert "SHELL" in result.err
