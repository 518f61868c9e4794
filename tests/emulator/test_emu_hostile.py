"""Issue 15's emulator classes: client errors that were answered 500, rate windows of nan or
inf, and a request log that grew without bound."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys

import pytest
from emu_helpers import Api, assert_error

from do_images.testing import Emulator

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "error_id"),
    [
        ("GET", "/v2/images/\u00b2", None, 404, "not_found"),  # isdigit(), but not a number
        ("GET", "/v2/images/1\u00b2", None, 404, "not_found"),
        ("POST", "/v2/images", DEEP, 400, "bad_request"),
        ("PUT", "/v2/images/1", b'{"name": "\xff\xfe"}', 400, "bad_request"),
        ("POST", "/v2/images", b'{"name": "\xc3", "url": "http://x/y", "region": "nyc3"}', 400,
         "bad_request"),
    ],
    ids=["superscript-two", "digit-and-superscript", "deep-json", "bad-utf8-put", "bad-utf8-post"],
)  # fmt: skip
async def test_client_errors_get_a_4xx_in_the_apis_shape_and_are_logged(
    api: Api, emu: Emulator, method: str, path: str, data: bytes | None, status: int, error_id: str
) -> None:
    answer = await api(method, path, data=data)
    assert_error(answer, status, error_id)
    assert answer.headers["Content-Type"].startswith("application/json")
    logged = emu.requests[-1]
    assert (logged.method, logged.status) == (method, status)


async def test_rate_windows_of_nan_or_inf_are_refused_at_construction() -> None:
    for seconds in (math.nan, math.inf, 0.0):
        with pytest.raises(ValueError, match="seconds"):
            Emulator(rate_limits=[(5, seconds)])
    with pytest.raises(ValueError, match="max_requests"):
        Emulator(rate_limits=[(0, 60.0)])


@pytest.mark.parametrize("window", ["5/nan", "5/inf", "5/-1", "0/60", "5/0", "x/60", "5"])
@pytest.mark.parametrize("program", ["do_images.testing", "do_images"])
def test_the_emulators_command_refuses_a_bad_rate_window(window: str, program: str) -> None:
    # It used to start, then answer 500 to every request.
    command = [sys.executable, "-m", program]
    if program == "do_images":
        command.append("emulator")
    done = subprocess.run(
        [*command, "--port", "0", "--rate-limit", window],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout
    assert "--rate-limit" in done.stderr
    assert "REQUESTS/SECONDS" in done.stderr
    assert "serving" not in done.stdout


async def test_the_request_log_keeps_only_the_newest(api: Api) -> None:
    async with Emulator(seed=False, request_log_size=5) as small:
        small_api = Api(api.session, small)
        for page in range(1, 9):
            await small_api("GET", "/v2/images", params={"page": str(page)})
        assert [r.query["page"] for r in small.requests] == ["4", "5", "6", "7", "8"]
    with pytest.raises(ValueError, match="request_log_size"):
        Emulator(request_log_size=0)


async def test_the_standalone_emulator_bounds_its_log() -> None:
    from do_images.testing import STANDALONE_REQUEST_LOG

    assert STANDALONE_REQUEST_LOG == 10_000
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "do_images.testing", "--port", "0", "--help",
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert "--request-log N" in out.decode()
    assert "default 10000" in out.decode()
