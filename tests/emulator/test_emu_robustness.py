"""Bad input of every kind gets a DO-shaped 4xx, never a 500 or a traceback."""

from __future__ import annotations

import io

import pytest
from emu_helpers import Answer, Api, assert_error

from do_images.testing import Emulator

CASES: list[tuple[str, str, bytes | None, dict[str, str] | None]] = [
    ("GET", "/v2/images/99999999999999999999999999", None, None),
    ("GET", "/v2/images/%00", None, None),
    ("GET", "/v2/images/\u00e9t\u00e9", None, None),
    ("GET", "/v2/images/\u0661\u0662", None, None),  # non-ASCII digits
    ("GET", "/v2/images", None, {"page": "99999999999999999999", "per_page": "200"}),
    ("GET", "/v2/images", None, {"per_page": "1e3"}),
    ("GET", "/v2/images", None, {"type": ""}),
    ("GET", "/v2/images/1/actions", None, {"per_page": "x"}),
    ("PUT", "/v2/images/1", b"null", None),
    ("PUT", "/v2/images/-5", b"{}", None),
    ("PUT", "/v2/images/abc", b"{}", None),
    ("DELETE", "/v2/images/ubuntu-24-04-x64", None, None),
    ("POST", "/v2/images", b"\xff\xfe\x00garbage", None),
    ("POST", "/v2/images", b'{"name": {"a": 1}, "url": [], "region": null}', None),
    (
        "POST",
        "/v2/images",
        b'{"name": "n", "url": "http://x", "region": "nyc3", "tags": null}',
        None,
    ),
    ("POST", "/v2/images/1/actions", b"[]", None),
    ("POST", "/v2/images/1/actions/2", b"{}", None),
    ("POST", "/v2/images/1/account_transfer/accept", b'{"transfer_id": true}', None),
    ("POST", "/v2/images/1/account_transfer/explode", b"{}", None),
    ("OPTIONS", "/v2/images", None, None),
    ("HEAD", "/v2/images", None, None),
    ("GET", "/", None, None),
    ("GET", "/v2/images/", None, None),
]


@pytest.mark.parametrize(("method", "path", "data", "params"), CASES)
async def test_never_a_500(
    api: Api,
    emu: Emulator,
    method: str,
    path: str,
    data: bytes | None,
    params: dict[str, str] | None,
) -> None:
    answer = await api(method, path, data=data, params=params)
    assert answer.status < 500, answer.body
    assert answer.headers["x-request-id"]
    assert answer.headers["ratelimit-reset"].isdigit()
    if answer.status >= 400 and method != "HEAD":
        body = answer.json
        assert set(body) == {"id", "message", "request_id"}
        assert body["request_id"] == answer.headers["x-request-id"]
    assert emu.requests[-1].status == answer.status


async def test_oversized_body_is_413_in_do_shape(api: Api, emu: Emulator) -> None:
    # just over aiohttp's default client_max_size (1 MiB); BytesIO avoids aiohttp's big-body warning
    body = io.BytesIO(b"{" + b" " * (1024 * 1024 + 10) + b"}")
    headers = {"Authorization": "Bearer t", "Content-Type": "application/json"}
    async with api.session.post(emu.url / "v2/images", data=body, headers=headers) as resp:
        answer = Answer(resp.status, resp.headers, await resp.read())
    assert_error(answer, 413, "request_entity_too_large")
