"""Tokens and accounts (401, isolation, no token in the log) and DO's sliding rate limits."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from emu_helpers import Api, assert_error

from do_images.testing import Emulator

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwdw==", "token"]
)
async def test_missing_or_malformed_authorization_is_401(
    session: aiohttp.ClientSession, emu: Emulator, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with session.get(emu.url / "v2/images", headers=headers) as resp:
        status, body, headers_ = resp.status, await resp.json(), resp.headers
    assert status == 401
    assert body["id"] == "unauthorized"
    assert body["message"] == "Unable to authenticate you"
    assert body["request_id"] == headers_["x-request-id"]
    assert headers_["ratelimit-remaining"] == headers_["ratelimit-limit"]  # 401s are not counted
    assert emu.requests[-1].account is None
    assert emu.requests[-1].status == 401


async def test_any_token_is_the_default_account(api: Api, emu: Emulator) -> None:
    for token in ("a", "dop_v1_something", "x" * 200):
        answer = await api("GET", "/v2/images", token=token, params={"private": "true"})
        assert answer.status == 200
        assert answer.json["meta"]["total"] == 5
    assert {r.account for r in emu.requests} == {"default"}


async def test_token_map_isolates_accounts(session: aiohttp.ClientSession) -> None:
    async with Emulator(tokens=TOKENS) as emu:
        api = Api(session, emu)
        assert_error(await api("GET", "/v2/images", token="stranger"), 401, "unauthorized")
        alices = emu.add_image(kind="snapshot", account="alice", name="alice-snap").id
        bob_private = (
            await api("GET", "/v2/images", token="bob-token", params={"private": "true"})
        ).json
        assert bob_private["meta"]["total"] == 0
        bob_all = (
            await api("GET", "/v2/images", token="bob-token", params={"per_page": "200"})
        ).json
        assert alices not in [i["id"] for i in bob_all["images"]]
        assert all(i["public"] for i in bob_all["images"])  # "default"'s seeded images too
        assert_error(await api("GET", f"/v2/images/{alices}", token="bob-token"), 404, "not_found")
        assert_error(
            await api("DELETE", f"/v2/images/{alices}", token="bob-token"), 404, "not_found"
        )
        mine = await api("GET", f"/v2/images/{alices}", token="alice-token")
        assert mine.json["image"]["name"] == "alice-snap"
        assert emu.account_uuid("alice") != emu.account_uuid("bob")
        assert emu.account_uuid("alice") == Emulator(seed=False).account_uuid("alice")
        assert emu.account_email("bob") == "bob@example.com"
        log = repr(emu.requests)
        assert "alice-token" not in log
        assert "Bearer" not in log
        assert {r.account for r in emu.requests} == {None, "alice", "bob"}


async def test_burst_over_short_window_then_recovery(session: aiohttp.ClientSession) -> None:
    async with Emulator(seed=False, rate_limits=((5, 0.5),)) as emu:
        api = Api(session, emu)
        answers = await asyncio.gather(*(api("GET", "/v2/images") for _ in range(8)))
        ok = [a for a in answers if a.status == 200]
        limited = [a for a in answers if a.status == 429]
        assert (len(ok), len(limited)) == (5, 3)
        now = time.time()
        for answer in limited:
            body = assert_error(answer, 429, "too_many_requests")
            assert body["message"] == "API rate limit exceeded."
            assert answer.headers["ratelimit-limit"] == "5"
            assert answer.headers["ratelimit-remaining"] == "0"
            assert answer.headers["retry-after"] == "1"
            assert now - 1 <= int(answer.headers["ratelimit-reset"]) <= now + 2
        assert "retry-after" not in ok[0].headers
        await asyncio.sleep(0.55)
        assert (await api("GET", "/v2/images")).status == 200
        assert [r.status for r in emu.requests].count(429) == 3


async def test_long_window_429_has_no_retry_after_and_rejections_do_not_count(
    session: aiohttp.ClientSession,
) -> None:
    async with Emulator(seed=False, rate_limits=((2, 0.4), (4, 60.0))) as emu:
        api = Api(session, emu)
        statuses = [(await api("GET", "/v2/images")).status for _ in range(5)]
        assert statuses == [200, 200, 429, 429, 429]
        await asyncio.sleep(0.45)
        # the 3 rejected requests were not counted: 2 more fit in the hourly window
        second = [await api("GET", "/v2/images") for _ in range(2)]
        await asyncio.sleep(0.45)  # only the hourly window is full now
        second.append(await api("GET", "/v2/images"))
        assert [a.status for a in second] == [200, 200, 429]
        assert second[1].headers["ratelimit-limit"] == "4"
        assert second[1].headers["ratelimit-remaining"] == "0"
        assert "retry-after" not in second[2].headers
        reset = int(second[2].headers["ratelimit-reset"])
        assert time.time() + 58 <= reset <= time.time() + 61


async def test_limits_are_per_account(session: aiohttp.ClientSession) -> None:
    async with Emulator(seed=False, tokens=TOKENS, rate_limits=((2, 30.0),)) as emu:
        api = Api(session, emu)
        for _ in range(2):
            assert (await api("GET", "/v2/images", token="alice-token")).status == 200
        assert (await api("GET", "/v2/images", token="alice-token")).status == 429
        bob = await api("GET", "/v2/images", token="bob-token")
        assert bob.status == 200
        assert bob.headers["ratelimit-remaining"] == "1"


async def test_disabled_limits_still_send_headers(session: aiohttp.ClientSession) -> None:
    async with Emulator(seed=False, rate_limits=()) as emu:
        api = Api(session, emu)
        answers = await asyncio.gather(*(api("GET", "/v2/images") for _ in range(30)))
        assert {a.status for a in answers} == {200}
        assert all(a.headers["ratelimit-remaining"].isdigit() for a in answers)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="rate window"):
        Emulator(rate_limits=((0, 1.0),))
    with pytest.raises(ValueError, match="steps"):
        Emulator(steps=-1)
    with pytest.raises(RuntimeError, match="start"):
        _ = Emulator(seed=False).url
