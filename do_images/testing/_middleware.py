"""The request pipeline around every handler: latency, faults, auth, rate limit, DO error shape,
headers (``ratelimit-*``, ``x-request-id``) and the request log.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from ._bodies import JSON_ERRORS
from ._context import CONTEXT, Context
from ._errors import ApiError, error_body
from ._faults import NON_JSON_BODY, Fault, truncated_json
from ._records import RecordedRequest

log = logging.getLogger("do_images.testing")


@dataclass(frozen=True)
class Call:
    """What the pipeline learnt about the request being handled: its account and raw body."""

    account: str | None
    raw: bytes


# A context variable rather than request storage: aiohttp >= 3.12 warns on string request keys
# and web.RequestKey does not exist before it (the package supports aiohttp 3.9+). Each request
# runs in its own task, so the value never leaks between requests.
_CALL: ContextVar[Call] = ContextVar("do_images_emulator_call")


def current_call() -> Call:
    """The account and body of the request being handled."""
    return _CALL.get()


def json_response(payload: Any, status: int = 200) -> web.Response:
    """A JSON answer serialized with msgspec."""
    return web.Response(
        body=msgspec.json.encode(payload), status=status, content_type="application/json"
    )


def _error(
    status: int, message: str | None, request_id: str, error_id: str | None = None
) -> web.Response:
    return json_response(error_body(status, message, request_id, error_id), status)


def _fault_response(fault: Fault, request: web.Request, request_id: str) -> web.StreamResponse:
    if fault.kind == "drop":
        if request.transport is not None:
            request.transport.close()  # aiohttp then discards whatever is returned
        return web.Response(status=200)
    if fault.kind == "truncate":
        return web.Response(body=truncated_json(), content_type="application/json")
    if fault.kind == "non_json":
        return web.Response(body=NON_JSON_BODY, content_type="text/html")
    if fault.body is not None:
        ctype = fault.content_type or "application/octet-stream"
        return web.Response(body=fault.body, status=fault.status, headers={"Content-Type": ctype})
    return _error(fault.status, None, request_id)


def _parse_json(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw) if raw else None
    except JSON_ERRORS:
        return None


async def _serve(
    ctx: Context, request: web.Request, handler: Handler, request_id: str
) -> web.StreamResponse:
    account = current_call().account
    response: web.StreamResponse
    if account is None:
        response = _error(401, None, request_id)
        response.headers.update(ctx.limiter.peek(None))
        return response
    verdict = ctx.limiter.hit(account)
    if not verdict.allowed:
        response = _error(429, None, request_id)
    else:
        try:
            response = await handler(request)
        except ApiError as exc:
            response = _error(exc.status, exc.message, request_id, exc.error_id)
        except web.HTTPException as exc:  # unknown route (404), wrong method (405), body too large
            response = _error(
                exc.status, None if exc.status in (404, 405) else exc.reason, request_id
            )
            if exc.status == 405:
                response.headers["Allow"] = exc.headers.get("Allow", "")
        except Exception:  # a bug in the emulator: still a DO-shaped 500, with the traceback logged
            log.exception("emulator handler failed")
            response = _error(500, None, request_id)
    response.headers.update(verdict.headers)
    return response


def _refuse(exc: web.HTTPException) -> Handler:
    async def refuse(request: web.Request) -> web.StreamResponse:
        raise exc

    return refuse


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run one request through faults, auth, rate limit and the handler; log it."""
    ctx = request.app[CONTEXT]
    request_id = str(uuid.uuid4())
    try:
        raw = await request.read()
    except web.HTTPException as exc:  # over client_max_size: answered as a 413 after auth
        raw, handler = b"", _refuse(exc)
    account = ctx.account_for(request.headers.get("Authorization"))
    _CALL.set(Call(account, raw))
    fault = ctx.faults.pick(request.method, request.path)
    if ctx.latency > 0:
        await asyncio.sleep(ctx.latency)
    if fault is not None and fault.kind == "latency":
        await asyncio.sleep(fault.delay)
    if fault is not None and fault.kind != "latency":
        response = _fault_response(fault, request, request_id)
        response.headers.update(ctx.limiter.peek(account))
    else:
        response = await _serve(ctx, request, handler, request_id)
    if fault is not None:
        response.headers.update(fault.headers)
    response.headers["x-request-id"] = request_id
    ctx.requests.append(
        RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            json=_parse_json(raw),
            account=account,
            status=0 if fault is not None and fault.kind == "drop" else response.status,
            fault=None if fault is None else fault.kind,
        )
    )
    return response
