"""Commands that send no request: ``auth list`` (doctl's contexts) and ``completion SHELL``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import attrs

from . import _config as config
from ._layouts import AuthContext
from ._output import Output


@attrs.frozen
class Run:
    """What a local command gets: the parsed arguments and the output."""

    args: argparse.Namespace
    out: Output


def config_path(args: argparse.Namespace) -> Path:
    """``--config``, else doctl's own place for its config."""
    explicit: str | None = args.config
    return Path(explicit).expanduser() if explicit else config.default_path(os.environ)


def auth_list(run: Run) -> None:
    """``auth list``: every context of doctl's config (``default`` always), the current one
    marked, which of them hold a token; never a token."""
    found = config.read(config_path(run.args))
    named: list[str] | None = run.args.context
    current = config.current_context(named[-1] if named else None, os.environ, found)
    names = sorted({*found.names(), current})
    run.out.all([AuthContext(n, n == current, found.token(n) is not None) for n in names])


#: What completes ``--context``: the contexts of doctl's config, as ``auth list`` names them.
CONTEXT_NAMES = "do-images auth list -o text --no-header --format name 2>/dev/null"


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every action of `parser` and of its subcommands, depth first."""
    found: list[argparse.Action] = []
    for action in parser._actions:  # pyright: ignore[reportPrivateUsage]
        found.append(action)
        if isinstance(action, argparse._SubParsersAction):  # pyright: ignore[reportPrivateUsage]
            subparsers: dict[str, argparse.ArgumentParser] = action.choices  # pyright: ignore
            for sub in subparsers.values():
                found.extend(_actions(sub))
    return found


def completion(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of `parser` for `shell` (bash, zsh or fish)."""
    try:
        import shtab
    except ImportError:  # pragma: no cover - the `cli` extra is part of every test run
        raise ValueError("completion scripts need shtab: pip install 'do-images[cli]'") from None
    names = shtab.cmd(CONTEXT_NAMES)  # pyright: ignore[reportUnknownMemberType]
    for action in _actions(parser):
        if action.dest == "context":  # --context completes the names `auth list` shows
            setattr(action, "complete", names)  # noqa: B010 - shtab reads this attribute
    script: str = shtab.complete(parser, shell=shell)  # pyright: ignore[reportUnknownMemberType]
    return script
