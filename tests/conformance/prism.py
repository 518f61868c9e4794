"""Start Stoplight Prism (`prism mock`) on 127.0.0.1 against the official spec, for tests.

Where things come from:

- the spec: ``$DO_IMAGES_SPEC``, else ``<repo>/../shared/openapi/images.yaml``;
- Prism: ``$DO_IMAGES_PRISM`` (the executable), else ``<repo>/.ci/prism/node_modules/.bin/prism``
  (where ``.ci/run`` installs ``@stoplight/prism-cli``), else ``prism`` on ``PATH``.

When either is missing (or Node.js is), the tier skips with the reason, unless
``DO_IMAGES_REQUIRE_CONFORMANCE=1`` (set by CI), when it fails instead.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NoReturn

import attrs
import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO.parent / "shared" / "openapi" / "images.yaml"
LOCAL_PRISM = REPO / ".ci" / "prism" / "node_modules" / ".bin" / "prism"
PRISM_VERSION = "5.14.2"
INSTALL_HINT = (
    f"mkdir -p .ci/prism && cd .ci/prism && npm init -y && npm install"
    f" @stoplight/prism-cli@{PRISM_VERSION}"
)
STARTUP_TIMEOUT = 30.0
# Dynamic mode: responses generated from the schemas, repeatable thanks to the seed.
DYNAMIC_ARGS = ("-d", "--seed", "42", "--json-schema-faker-fillProperties=false")


def unavailable(reason: str, *, module_level: bool = False) -> NoReturn:
    """Skip the tier with `reason`; under DO_IMAGES_REQUIRE_CONFORMANCE=1 fail instead."""
    if os.environ.get("DO_IMAGES_REQUIRE_CONFORMANCE") == "1":
        pytest.fail(f"{reason} (DO_IMAGES_REQUIRE_CONFORMANCE=1 forbids skipping)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def spec_path(*, module_level: bool = False) -> Path:
    """DigitalOcean's OpenAPI description: ``$DO_IMAGES_SPEC``, else ``../shared/openapi``."""
    configured = os.environ.get("DO_IMAGES_SPEC")
    spec = Path(configured) if configured else DEFAULT_SPEC
    if not spec.is_file():
        where = "from DO_IMAGES_SPEC" if configured else "beside the checkout"
        unavailable(
            f"conformance tier: no OpenAPI spec at {spec} ({where}); to run it, set"
            " DO_IMAGES_SPEC=/path/to/images.yaml, DigitalOcean's OpenAPI description of"
            " /v2/images (in this project's workspace: ../shared/openapi/images.yaml)",
            module_level=module_level,
        )
    return spec


def prism_command() -> list[str]:
    """The argv prefix that runs Prism, after checking that it (and Node.js) exists."""
    configured = os.environ.get("DO_IMAGES_PRISM")
    if configured:
        executable: str | None = configured if os.access(configured, os.X_OK) else None
        if executable is None:
            unavailable(f"Prism conformance tier: DO_IMAGES_PRISM={configured} is not executable")
    elif os.access(LOCAL_PRISM, os.X_OK):
        executable = str(LOCAL_PRISM)
    else:
        executable = shutil.which("prism")
        if executable is None:
            unavailable(
                f"Prism conformance tier: Stoplight Prism is not installed (not in"
                f" {LOCAL_PRISM.relative_to(REPO)} nor on PATH); install it with"
                f" `{INSTALL_HINT}` or set DO_IMAGES_PRISM"
            )
    if shutil.which("node") is None:
        unavailable("Prism conformance tier: Node.js (`node`) is not on PATH; Prism needs it")
    return [executable]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.frozen
class PrismServer:
    """One running `prism mock`: its base URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _answers(port: int) -> bool:
    """Whether Prism serves HTTP on `port` yet (any status will do; it says 401 without auth)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", "/v2/images", headers={"Authorization": "Bearer probe"})
        conn.getresponse().read()
    except OSError:
        return False
    finally:
        conn.close()
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the process group we started (Prism and anything it spawned), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    else:
        process.wait()


@contextmanager
def run_prism(
    spec: Path, log_dir: Path, *, name: str, extra_args: Sequence[str] = ()
) -> Iterator[PrismServer]:
    """Start one `prism mock` on a free loopback port; stop it (and reap it) on exit."""
    command = prism_command()
    port = free_port()
    log = log_dir / f"prism-{name}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "mock", *extra_args, "-h", "127.0.0.1", "-p", str(port), str(spec)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so _stop reaches every child
        )
    server = PrismServer(f"http://127.0.0.1:{port}", process, log)
    try:
        yield server
    finally:
        _stop(process)


def wait_until_up(*servers: PrismServer, timeout: float = STARTUP_TIMEOUT) -> None:
    """Block until every server answers HTTP; fail with its log if one exits or stalls."""
    deadline = time.monotonic() + timeout
    pending = list(servers)
    while pending:
        for server in list(pending):
            if server.process.poll() is not None:
                pytest.fail(
                    f"Prism exited with status {server.process.returncode} before serving"
                    f" {server.url}; its log ends:\n{server.log_tail()}",
                    pytrace=False,
                )
            if _answers(int(server.url.rsplit(":", 1)[1])):
                pending.remove(server)
        if pending and time.monotonic() > deadline:
            pytest.fail(
                f"Prism did not answer on {pending[0].url} within {timeout:.0f}s; its log"
                f" ends:\n{pending[0].log_tail()}",
                pytrace=False,
            )
        if pending:
            time.sleep(0.1)


@attrs.frozen
class PrismPair:
    static: PrismServer
    """Answers with the spec's examples (choose with `Prefer: example=…` / `code=…`)."""
    dynamic: PrismServer
    """Answers with data generated from the schemas (seeded, so repeatable)."""


@contextmanager
def prism_pair(log_dir: Path) -> Iterator[PrismPair]:
    """A static and a dynamic Prism on the same spec, started side by side."""
    spec = spec_path()
    with ExitStack() as stack:
        static = stack.enter_context(run_prism(spec, log_dir, name="static"))
        dynamic = stack.enter_context(
            run_prism(spec, log_dir, name="dynamic", extra_args=DYNAMIC_ARGS)
        )
        wait_until_up(static, dynamic)
        yield PrismPair(static, dynamic)
