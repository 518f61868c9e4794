"""Helpers for the emulator's tests: a plain-aiohttp caller and DO error-shape checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from do_images.testing import Emulator

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


@dataclass
class Answer:
    """One HTTP answer, fully read."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Api:
    """Sends real HTTP to an emulator with a bearer token (no SDK involved)."""

    def __init__(self, session: aiohttp.ClientSession, emulator: Emulator) -> None:
        self.session = session
        self.emulator = emulator

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "test-token",
        json: Any = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if json is not None:
            data = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        url = self.emulator.url.with_path(path)
        async with self.session.request(
            method, url, headers=headers, data=data, params=params
        ) as resp:
            return Answer(resp.status, resp.headers, await resp.read())


def assert_error(answer: Answer, status: int, error_id: str) -> dict[str, Any]:
    """The answer is a DO error: status, ``{"id", "message", "request_id"}``, headers."""
    assert answer.status == status, answer.body
    body = answer.json
    assert set(body) == {"id", "message", "request_id"}
    assert body["id"] == error_id
    assert body["message"]
    assert body["request_id"] == answer.headers["x-request-id"]
    for name in RATE_HEADERS:
        assert answer.headers[name].isdigit()
    return dict(body)
