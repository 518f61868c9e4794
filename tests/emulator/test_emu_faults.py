"""Fault injection: status (JSON or raw body), latency, drop, truncate, non_json; matching rules."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest
from emu_helpers import Api, assert_error

from do_images.testing import Emulator, Fault


async def test_status_fault_once_then_normal(api: Api, emu: Emulator) -> None:
    fault = emu.inject(Fault(kind="status", status=500))
    assert isinstance(fault, Fault)
    error = assert_error(await api("GET", "/v2/images"), 500, "server_error")
    assert error["message"]
    assert (await api("GET", "/v2/images")).status == 200
    assert emu.faults_served == 1
    assert [(r.status, r.fault) for r in emu.requests] == [(500, "status"), (200, None)]


@pytest.mark.parametrize(
    ("status", "error_id"),
    [
        (429, "too_many_requests"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
        (401, "unauthorized"),
    ],
)
async def test_status_fault_ids(api: Api, emu: Emulator, status: int, error_id: str) -> None:
    emu.inject(Fault(kind="status", status=status, headers={"retry-after": "3"}))
    answer = await api("GET", "/v2/images/ubuntu-24-04-x64")
    assert_error(answer, status, error_id)
    assert answer.headers["retry-after"] == "3"


async def test_status_fault_with_raw_html_body(api: Api, emu: Emulator) -> None:
    page = b"<html><body>502 Bad Gateway</body></html>"
    emu.inject(Fault(kind="status", status=502, body=page, content_type="text/html"))
    answer = await api("GET", "/v2/images")
    assert (answer.status, answer.body) == (502, page)
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["x-request-id"]
    assert answer.headers["ratelimit-limit"]


async def test_faulted_post_changes_nothing(empty: Emulator, empty_api: Api) -> None:
    empty.inject(Fault(kind="status", status=503, method="POST"))
    body = {"name": "n", "url": "http://a/b.img", "region": "nyc3"}
    assert (await empty_api("POST", "/v2/images", json=body)).status == 503
    assert (await empty_api("GET", "/v2/images")).json["meta"]["total"] == 0
    assert empty.requests[0].json == body
    assert empty.requests[0].fault == "status"


async def test_latency_fault_answers_normally(api: Api, emu: Emulator) -> None:
    emu.inject(Fault(kind="latency", delay=0.3))
    start = time.monotonic()
    answer = await api("GET", "/v2/images")
    assert time.monotonic() - start >= 0.3
    assert answer.status == 200
    assert emu.requests[-1].fault == "latency"


async def test_drop_disconnects(api: Api, emu: Emulator) -> None:
    # aiohttp's client silently re-sends an idempotent request once after a disconnection
    # (RFC 9112 retry of a persistent connection), so a GET needs two drops to surface.
    emu.inject(Fault(kind="drop", times=2))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api("GET", "/v2/images")
    assert [(r.status, r.fault) for r in emu.requests] == [(0, "drop"), (0, "drop")]
    assert (await api("GET", "/v2/images")).status == 200


async def test_drop_of_a_post_creates_nothing(empty: Emulator, empty_api: Api) -> None:
    empty.inject(Fault(kind="drop", method="POST"))
    body = {"name": "n", "url": "http://a/b.img", "region": "nyc3"}
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await empty_api("POST", "/v2/images", json=body)
    assert len(empty.requests) == 1
    assert (await empty_api("GET", "/v2/images")).json["meta"]["total"] == 0


async def test_truncate_gives_invalid_json_with_consistent_length(api: Api, emu: Emulator) -> None:
    emu.inject(Fault(kind="truncate"))
    answer = await api("GET", "/v2/images")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert int(answer.headers["content-length"]) == len(answer.body) > 0
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(answer.body)


async def test_non_json_answers_html(api: Api, emu: Emulator) -> None:
    emu.inject(Fault(kind="non_json"))
    answer = await api("GET", "/v2/images")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.body.startswith(b"<html>")


async def test_matching_by_method_and_path_and_times(empty: Emulator, empty_api: Api) -> None:
    image_id = empty.add_image(kind="snapshot").id
    empty.inject(Fault(kind="status", status=500, method="POST", path=r"/actions$", times=2))
    assert (await empty_api("GET", f"/v2/images/{image_id}/actions")).status == 200
    assert (await empty_api("GET", f"/v2/images/{image_id}")).status == 200
    action = {"type": "transfer", "region": "lon1"}
    statuses = [
        (await empty_api("POST", f"/v2/images/{image_id}/actions", json=action)).status
        for _ in range(3)
    ]
    assert statuses == [500, 500, 201]
    assert empty.faults_served == 2


async def test_times_none_until_cleared(api: Api, emu: Emulator) -> None:
    emu.inject(Fault(kind="status", status=503, times=None))
    statuses = [(await api("GET", "/v2/images")).status for _ in range(4)]
    assert statuses == [503] * 4
    emu.clear_faults()
    assert (await api("GET", "/v2/images")).status == 200


async def _statuses_with_probability(session: aiohttp.ClientSession) -> list[int]:
    async with Emulator(seed=False, random_seed=7) as emu:
        emu.inject(Fault(kind="status", status=500, times=None, probability=0.5))
        api = Api(session, emu)
        return [(await api("GET", "/v2/images")).status for _ in range(40)]


async def test_probability_is_seeded(session: aiohttp.ClientSession) -> None:
    first = await _statuses_with_probability(session)
    assert 5 < first.count(500) < 35
    assert first == await _statuses_with_probability(session)


async def test_faults_apply_before_auth_and_rate_limit(session: aiohttp.ClientSession) -> None:
    async with Emulator(seed=False, rate_limits=((1, 60.0),)) as emu:
        api = Api(session, emu)
        emu.inject(Fault(kind="status", status=500, times=3))
        assert [(await api("GET", "/v2/images")).status for _ in range(3)] == [500] * 3
        assert (await api("GET", "/v2/images")).status == 200  # faults were not counted
        emu.inject(Fault(kind="status", status=502))
        assert (await api("GET", "/v2/images", token=None)).status == 502


async def test_emulator_latency_overlaps_concurrent_requests(
    session: aiohttp.ClientSession,
) -> None:
    async with Emulator(seed=False, latency=0.25) as emu:
        api = Api(session, emu)
        start = time.monotonic()
        answers = await asyncio.gather(*(api("GET", "/v2/images") for _ in range(6)))
        elapsed = time.monotonic() - start
        assert {a.status for a in answers} == {200}
        assert 0.25 <= elapsed < 1.0


def test_fault_kind_is_validated() -> None:
    with pytest.raises(ValueError, match="kind"):
        Fault(kind="explode")
