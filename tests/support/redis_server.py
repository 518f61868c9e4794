"""A real `redis-server` on a free loopback port, started and stopped by the tests themselves."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

BINARY = "redis-server"
HOW_TO_ENABLE = (
    "no Redis: set DO_IMAGES_REDIS_URL=redis://127.0.0.1:PORT/0, or install redis-server "
    "(Debian: apt-get install redis-server) and the tests start their own"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def have_binary() -> bool:
    return shutil.which(BINARY) is not None


class RedisServer:
    """One `redis-server` child without persistence; `stop()` and `start()` again on one port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        command = [BINARY, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        command += ["--enable-debug-command", "local"]  # DEBUG SLEEP slows it in load tests
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5)
        try:
            for _ in range(100):  # bounded: 5 s at most
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self._process.returncode}")
                try:
                    if probe.ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            probe.close()
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


def redis_url_for_tests() -> Iterator[str]:
    """The body of a session fixture: DO_IMAGES_REDIS_URL, else a `redis-server` of its own;
    without either the test is skipped (a failure when DO_IMAGES_REQUIRE_REDIS=1, as in CI)."""
    url = os.environ.get("DO_IMAGES_REDIS_URL")
    if url:
        yield url
        return
    yield from own_redis_server()


def own_redis_server() -> Iterator[str]:
    """The body of a fixture: a `redis-server` of its own, stopped afterwards; without the
    binary the test is skipped (a failure when DO_IMAGES_REQUIRE_REDIS=1, as in CI)."""
    if not have_binary():
        if os.environ.get("DO_IMAGES_REQUIRE_REDIS") == "1":
            pytest.fail(f"DO_IMAGES_REQUIRE_REDIS=1 but {HOW_TO_ENABLE}")
        pytest.skip(HOW_TO_ENABLE)
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()
