"""Every kind of emulator answer (each operation x success and each error status it produces)
validated against DigitalOcean's official OpenAPI spec with openapi-core.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from prism import spec_path

from do_images.testing import Emulator, Fault

SPEC_PATH = spec_path(module_level=True)

import yaml  # noqa: E402
from openapi_core import OpenAPI  # noqa: E402
from openapi_core.testing import MockRequest, MockResponse  # noqa: E402
from openapi_schema_validator import OAS30Validator  # noqa: E402

SERVER = "https://api.digitalocean.com"  # the spec's server; requests are matched against it
SPEC = OpenAPI.from_file_path(str(SPEC_PATH))
_SPEC_DICT: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
ERROR_SCHEMA = _SPEC_DICT["components"]["schemas"]["error"]
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
# Spec defect: imageActions_post (201) and imageActions_get (200) declare the bare action object
# as the body, while the real API and the spec's own examples wrap it: {"action": {...}}.
# Those answers are validated by checking the wrapper, then body["action"] against that schema.

Check = Callable[..., Awaitable[Any]]


@pytest.fixture
async def check(validated_log: list[str]) -> AsyncIterator[Callable[[Emulator], Check]]:
    async with aiohttp.ClientSession() as session:

        def bind(emu: Emulator) -> Check:
            async def call(
                method: str,
                path: str,
                status: int,
                *,
                token: str | None = "conformance",
                json: Any = None,
                data: bytes | None = None,
                params: dict[str, str] | None = None,
                in_spec: bool = True,
            ) -> Any:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if json is not None:
                    data = orjson.dumps(json)
                    headers["Content-Type"] = "application/json"
                url = emu.url.with_path(path)
                async with session.request(
                    method, url, data=data, params=params, headers=headers
                ) as resp:
                    body, resp_headers, got = await resp.read(), resp.headers, resp.status
                assert got == status, (method, path, got, body)
                for name in RATE_HEADERS:
                    assert resp_headers[name].isdigit(), name
                parsed = orjson.loads(body) if body else None
                if status >= 400:
                    assert parsed["request_id"] == resp_headers["x-request-id"]
                if not in_spec:  # a route the spec does not have: the body is still DO's error
                    errors = list(OAS30Validator(ERROR_SCHEMA).iter_errors(parsed))
                    assert not errors, errors
                    validated_log.append(f"(no route) {method} -> {status}")
                    return parsed
                payload = body
                if got in (200, 201) and _is_action_item(method, path):
                    assert set(parsed) == {"action"}
                    payload = orjson.dumps(parsed["action"])
                ctype = resp_headers.get("Content-Type", "").split(";")[0] or "application/json"
                request = MockRequest(
                    SERVER, method, path, args=params, data=data,
                    headers={k: v for k, v in headers.items() if k != "Authorization"},
                )  # fmt: skip
                response = MockResponse(
                    payload, status_code=got, headers=dict(resp_headers), content_type=ctype
                )
                SPEC.validate_response(request, response)
                validated_log.append(f"{method} {_pattern(path)} -> {status}")
                return parsed

            return call

        yield bind


def _is_action_item(method: str, path: str) -> bool:
    """POST /v2/images/{id}/actions and GET /v2/images/{id}/actions/{action_id}."""
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[3] != "actions":
        return False
    return (method, len(parts)) in (("POST", 4), ("GET", 5))


def _pattern(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) >= 3:
        parts[2] = "{image_id}"
    if len(parts) == 5 and parts[3] == "actions":
        parts[4] = "{action_id}"
    return "/" + "/".join(parts)


async def test_images_list_answers(check: Callable[[Emulator], Check]) -> None:
    async with Emulator() as emu:
        call = check(emu)
        await call("GET", "/v2/images", 200)
        await call("GET", "/v2/images", 200, params={"per_page": "200"})
        await call("GET", "/v2/images", 200, params={"type": "distribution", "per_page": "5"})
        await call(
            "GET", "/v2/images", 200, params={"type": "application", "page": "2", "per_page": "3"}
        )
        await call("GET", "/v2/images", 200, params={"private": "true"})
        await call(
            "GET", "/v2/images", 200, params={"private": "false", "page": "2", "per_page": "4"}
        )
        await call("GET", "/v2/images", 200, params={"tag_name": "prod"})
        await call("GET", "/v2/images", 200, params={"page": "99", "per_page": "10"})
        await call("GET", "/v2/images", 400, params={"per_page": "0"})
        await call("GET", "/v2/images", 400, params={"type": "snapshot"})
        await call("GET", "/v2/images", 401, token=None)


async def test_image_answers(check: Callable[[Emulator], Check]) -> None:
    async with Emulator(steps=2) as emu:
        call = check(emu)
        image = (await call("GET", "/v2/images/ubuntu-24-04-x64", 200))["image"]
        await call("GET", f"/v2/images/{image['id']}", 200)
        await call("GET", "/v2/images/999", 404)
        await call("GET", "/v2/images/not-a-slug", 404)
        body = {"name": "n", "url": "http://example.com/a.img", "region": "nyc3", "tags": ["t"]}
        new = (await call("POST", "/v2/images", 202, json=body))["image"]
        await call("GET", f"/v2/images/{new['id']}", 200)  # NEW
        await call("GET", f"/v2/images/{new['id']}", 200)  # available
        failing = {**body, "url": "http://example.com/fail.img", "distribution": "Debian"}
        bad = (await call("POST", "/v2/images", 202, json=failing))["image"]
        await call("GET", f"/v2/images/{bad['id']}", 200)
        deleted = await call("GET", f"/v2/images/{bad['id']}", 200)
        assert deleted["image"]["status"] == "deleted"
        await call("POST", "/v2/images", 422, json={"name": "n"})
        await call("POST", "/v2/images", 400, data=b"{oops")
        await call("POST", "/v2/images", 401, token=None, json=body)
        await call("PUT", f"/v2/images/{new['id']}", 200, json={"name": "renamed"})
        await call("PUT", f"/v2/images/{new['id']}", 422, json={"name": ""})
        await call("PUT", f"/v2/images/{new['id']}", 400, data=b"[]")
        await call("PUT", f"/v2/images/{image['id']}", 404, json={"name": "x"})
        await call("DELETE", f"/v2/images/{new['id']}", 204)
        await call("DELETE", f"/v2/images/{new['id']}", 404)
        await call("DELETE", f"/v2/images/{image['id']}", 401, token=None)


async def test_action_answers(check: Callable[[Emulator], Check]) -> None:
    async with Emulator(seed=False, steps=2) as emu:
        call = check(emu)
        snap = emu.add_image(kind="snapshot").id
        backup = emu.add_image(kind="backup").id
        transfer = {"type": "transfer", "region": "ams3"}
        action = (await call("POST", f"/v2/images/{snap}/actions", 201, json=transfer))["action"]
        await call("POST", f"/v2/images/{backup}/actions", 201, json={"type": "convert"})
        emu.fail_next_action()
        errored = (await call("POST", f"/v2/images/{snap}/actions", 201, json=transfer))["action"]
        for action_id in (action["id"], action["id"], errored["id"], errored["id"]):
            await call("GET", f"/v2/images/{snap}/actions/{action_id}", 200)
        await call("GET", f"/v2/images/{snap}/actions", 200)
        await call("GET", f"/v2/images/{snap}/actions", 200, params={"per_page": "1", "page": "2"})
        await call("GET", f"/v2/images/{snap}/actions", 400, params={"per_page": "x"})
        await call("GET", "/v2/images/1/actions", 404)
        await call("GET", f"/v2/images/{snap}/actions/1", 404)
        await call("POST", f"/v2/images/{snap}/actions", 422, json={"type": "transfer"})
        await call("POST", f"/v2/images/{snap}/actions", 422, json={"type": "convert"})
        await call("POST", f"/v2/images/{snap}/actions", 400, data=b"")
        await call("POST", "/v2/images/1/actions", 404, json=transfer)
        await call("GET", f"/v2/images/{snap}/actions/{action['id']}", 401, token=None)


async def test_account_transfer_answers(check: Callable[[Emulator], Check]) -> None:
    tokens = {"a": "alice", "b": "bob"}
    async with Emulator(seed=False, tokens=tokens) as emu:
        call = check(emu)
        snaps = [emu.add_image(kind="snapshot", account="alice").id for _ in range(4)]
        backup = emu.add_image(kind="backup", account="alice").id
        base = "/v2/images/{}/account_transfer"
        by_mail = {"recipient_email": "bob@example.com"}
        ids = [
            (await call("POST", base.format(i), 201, token="a", json=by_mail))["transfer_id"]
            for i in snaps[:3]
        ]
        await call(
            "POST",
            base.format(snaps[3]),
            201,
            token="a",
            json={"recipient_uuid": emu.account_uuid("bob")},
        )
        await call("POST", base.format(backup), 422, token="a", json=by_mail)
        await call("POST", base.format(snaps[0]), 422, token="a", json={})
        await call("POST", base.format(snaps[0]), 400, token="a", data=b"nope")
        await call("POST", base.format(12345), 404, token="a", json=by_mail)
        await call("POST", base.format(snaps[0]), 401, token="zzz", json=by_mail)
        accept = {"transfer_id": ids[0], "recipient_uuid": emu.account_uuid("bob")}
        await call(
            "POST",
            base.format(snaps[0]) + "/accept",
            422,
            token="b",
            json={**accept, "recipient_uuid": "x"},
        )
        await call("POST", base.format(snaps[0]) + "/accept", 201, token="b", json=accept)
        await call("POST", base.format(snaps[0]) + "/accept", 404, token="b", json=accept)
        await call("POST", base.format(snaps[0]) + "/accept", 400, token="b", data=b"")
        await call(
            "POST", base.format(snaps[1]) + "/decline", 204, token="b", json={"transfer_id": ids[1]}
        )
        await call(
            "POST", base.format(snaps[1]) + "/decline", 404, token="b", json={"transfer_id": ids[1]}
        )
        await call(
            "POST", base.format(snaps[2]) + "/cancel", 422, token="a", json={"transfer_id": None}
        )
        await call(
            "POST", base.format(snaps[2]) + "/cancel", 204, token="a", json={"transfer_id": ids[2]}
        )
        await call(
            "POST", base.format(snaps[2]) + "/cancel", 404, token="a", json={"transfer_id": ids[2]}
        )


async def test_rate_limit_and_fault_answers(check: Callable[[Emulator], Check]) -> None:
    async with Emulator(seed=False, rate_limits=((2, 30.0),)) as emu:
        call = check(emu)
        await call("GET", "/v2/images", 200)
        await call("GET", "/v2/images", 200)
        await call("GET", "/v2/images", 429)
        await call(
            "POST", "/v2/images", 429, json={"name": "n", "url": "http://a/b", "region": "nyc3"}
        )
    async with Emulator(seed=True) as emu:
        call = check(emu)
        image_id = emu.add_image(kind="snapshot").id
        cases = [
            ("GET", "/v2/images"), ("POST", "/v2/images"), ("GET", f"/v2/images/{image_id}"),
            ("PUT", f"/v2/images/{image_id}"), ("DELETE", f"/v2/images/{image_id}"),
            ("GET", f"/v2/images/{image_id}/actions"), ("POST", f"/v2/images/{image_id}/actions"),
            ("GET", f"/v2/images/{image_id}/actions/1"),
            ("POST", f"/v2/images/{image_id}/account_transfer"),
            ("POST", f"/v2/images/{image_id}/account_transfer/accept"),
            ("POST", f"/v2/images/{image_id}/account_transfer/cancel"),
            ("POST", f"/v2/images/{image_id}/account_transfer/decline"),
        ]  # fmt: skip
        for status in (500, 429, 503):
            for method, path in cases:
                emu.inject(Fault(kind="status", status=status))
                await call(method, path, status, json={})
        await call("GET", "/v2/droplets", 404, in_spec=False)
        await call("PATCH", "/v2/images", 405, in_spec=False)
        await asyncio.sleep(0)


def test_validated_answer_count(validated_log: list[str]) -> None:
    """Runs last in this module: makes the number of validated answers visible."""
    print(f"\n{len(validated_log)} emulator answers validated against the spec")
    assert len(validated_log) >= 100
