"""doctl's config file, read and never written: where it lives, its auth contexts, and which
token a command uses (the precedence is `choose`'s docstring)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

DEFAULT_CONTEXT = "default"  # doctl's name for the config's top-level `access-token`
TOKEN_VARIABLES = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")
CONTEXT_VARIABLE = "DIGITALOCEAN_CONTEXT"
CONFIG_NAME = Path("doctl") / "config.yaml"


def default_path(env: Mapping[str, str], platform: str = sys.platform) -> Path:
    """Where doctl keeps its config: Go's ``os.UserConfigDir()`` joined with doctl/config.yaml
    (``$XDG_CONFIG_HOME``, else ``~/.config``; macOS ``~/Library/Application Support``;
    Windows ``%APPDATA%``)."""
    if platform == "darwin":
        return Path.home() / "Library" / "Application Support" / CONFIG_NAME
    if platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / CONFIG_NAME
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / CONFIG_NAME


@attrs.frozen
class DoctlConfig:
    """What doctl's config file says about tokens (an absent file says nothing)."""

    path: Path
    """The file read (or looked for)."""
    current: str | None = None
    """Its ``context:`` key: the context doctl uses by default."""
    access_token: str | None = attrs.field(default=None, repr=False)
    """Its ``access-token:`` key: the token of the context named ``default``."""
    contexts: Mapping[str, str] = attrs.field(factory=dict[str, str], repr=False)
    """Its ``auth-contexts:`` map: context name -> token."""

    def names(self) -> list[str]:
        """Every context, ``default`` included (as ``doctl auth list`` shows them), sorted."""
        return sorted({DEFAULT_CONTEXT, *self.contexts})

    def token(self, name: str) -> str | None:
        """The token of context `name`, or None."""
        token = self.access_token if name == DEFAULT_CONTEXT else self.contexts.get(name)
        return token or None

    def require(self, name: str, flag: str) -> str:
        """The token of context `name`; a clear error (naming `flag`) if it has none."""
        token = self.token(name)
        if token is None:
            known = ", ".join(n for n in self.names() if self.token(n)) or "none"
            raise ValueError(f"{flag} {name}: no such context with a token in {self.path} "
                             f"(with a token: {known}; see: do-images auth list)")  # fmt: skip
        return token


def _text(value: object, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{where} must be a string, not {type(value).__name__}")


def read(path: Path) -> DoctlConfig:
    """The config at `path` (an empty one if there is no file); ValueError if it is unreadable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return DoctlConfig(path)
    except OSError as error:
        raise ValueError(f"--config: cannot read {path}: {error.strerror or error}") from None
    try:
        import msgspec.yaml  # PyYAML underneath: the `cli` extra
    except ImportError:  # pragma: no cover - the `cli` extra is part of every test run
        raise ValueError(f"reading doctl's config {path} needs PyYAML: "
                         "pip install 'do-images[cli]'") from None  # fmt: skip
    try:
        data: object = msgspec.yaml.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"--config: {path} is not YAML: {str(error)[:200]}") from None
    if data is None:
        return DoctlConfig(path)
    if not isinstance(data, dict):
        raise ValueError(f"--config: {path} is not a YAML mapping")
    config: dict[object, object] = data  # pyright: ignore[reportUnknownVariableType]
    contexts: object = config.get("auth-contexts") or {}
    if not isinstance(contexts, dict):
        raise ValueError(f"--config: auth-contexts in {path} must be a mapping")
    tokens: dict[str, str] = {}
    entries: dict[object, object] = contexts  # pyright: ignore[reportUnknownVariableType]
    for name, token in entries.items():
        text = _text(token, f"--config: auth-contexts.{name} in {path}")
        tokens[str(name)] = text or ""
    return DoctlConfig(
        path,
        current=_text(config.get("context"), f"--config: context in {path}"),
        access_token=_text(config.get("access-token"), f"--config: access-token in {path}"),
        contexts=tokens,
    )


@attrs.frozen
class Choice:
    """The token a command uses and where it came from (never the token itself)."""

    token: str = attrs.field(repr=False)
    source: str
    """Named in messages, e.g. ``context 'acme' of ~/.config/doctl/config.yaml``."""


def current_context(context: str | None, env: Mapping[str, str], config: DoctlConfig) -> str:
    """The context a command means: ``--context``, else ``$DIGITALOCEAN_CONTEXT``, else the
    config's ``context:``, else ``default``."""
    return context or env.get(CONTEXT_VARIABLE) or config.current or DEFAULT_CONTEXT


def choose(
    token: str | None, context: str | None, env: Mapping[str, str], config_path: Path
) -> Choice | None:
    """The token to use, first found wins:

    1. ``-t/--access-token TOKEN``;
    2. ``--context NAME``: that context's token in the config (an unknown name is an error);
    3. ``$DIGITALOCEAN_TOKEN``, then ``$DIGITALOCEAN_ACCESS_TOKEN``;
    4. ``$DIGITALOCEAN_CONTEXT``: that context's token in the config;
    5. the config's current ``context:`` and its token, else its ``access-token``.

    Flags beat the environment, which beats the config file. None: no token anywhere.
    """
    if token is not None:
        return Choice(token, "--access-token")
    if context is not None:
        config = read(config_path)
        return Choice(config.require(context, "--context"), _source(context, config))
    for name in TOKEN_VARIABLES:
        if env.get(name):
            return Choice(env[name], f"${name}")
    config = read(config_path)
    if env.get(CONTEXT_VARIABLE):
        name = env[CONTEXT_VARIABLE]
        return Choice(config.require(name, f"${CONTEXT_VARIABLE}"), _source(name, config))
    name = config.current or DEFAULT_CONTEXT
    found = config.token(name)
    return None if found is None else Choice(found, _source(name, config))


def _source(name: str, config: DoctlConfig) -> str:
    home = str(Path.home())
    shown = str(config.path)
    if shown.startswith(home + os.sep):
        shown = "~" + shown[len(home) :]
    return f"context {name!r} of {shown}"
