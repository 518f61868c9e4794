"""The aiohttp.web application: every ``/v2/images`` route of the spec and its thin handler,
plus the real API's ``/v2/actions`` routes for the actions the emulator created."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import _bodies, _pagination
from ._context import CONTEXT, Context
from ._errors import ApiError, bad_request, not_found
from ._middleware import current_call, json_response, pipeline
from ._state import Store

_IMAGE_TYPES = ("application", "distribution")


def _store(request: web.Request) -> Store:
    return request.app[CONTEXT].store


def _account(request: web.Request) -> str:
    account = current_call().account
    if account is None:  # the pipeline answers 401 before any handler runs
        raise ApiError(401)
    return account


def _body(request: web.Request) -> dict[str, Any]:
    return _bodies.parse_object(current_call().raw)


def _int_id(raw: str) -> int:
    # Non-numeric ids in integer-only paths are simply not found, as on the real API.
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise not_found()
    return int(raw)


def _paged(
    request: web.Request, key: str, total_and_items: Any, page: int, per_page: int
) -> web.Response:
    total, items = total_and_items
    return json_response(
        {
            key: items,
            "links": _pagination.links(request.url, page, per_page, total),
            "meta": {"total": total},
        }
    )


async def list_images(request: web.Request) -> web.Response:
    """``GET /v2/images``."""
    query = request.query
    page, per_page = _pagination.parse(query)
    kind = query.get("type") or None
    # The spec enumerates type's values; like DO's other invalid query values, others are a 400.
    if kind is not None and kind not in _IMAGE_TYPES:
        raise bad_request("type must be one of: application, distribution")
    private_raw = query.get("private", "").lower()
    if private_raw not in ("", "true", "false"):
        raise bad_request("private must be true or false")
    tag = query.get("tag_name") or None
    offset = (page - 1) * per_page
    result = _store(request).list_images(
        _account(request), kind, private_raw == "true", tag, offset, per_page
    )
    return _paged(request, "images", result, page, per_page)


async def create_image(request: web.Request) -> web.Response:
    """``POST /v2/images``: custom image import, 202 with status NEW."""
    body = _bodies.custom_image(_body(request))
    return json_response({"image": _store(request).create_custom(_account(request), body)}, 202)


async def get_image(request: web.Request) -> web.Response:
    """``GET /v2/images/{id or slug}``."""
    image = _store(request).get_image(_account(request), request.match_info["image_id"])
    return json_response({"image": image})


async def update_image(request: web.Request) -> web.Response:
    """``PUT /v2/images/{id}``."""
    image_id = _int_id(request.match_info["image_id"])
    changes = _bodies.image_update(_body(request))
    image = _store(request).update_image(_account(request), image_id, changes)
    return json_response({"image": image})


async def delete_image(request: web.Request) -> web.Response:
    """``DELETE /v2/images/{id}``: 204."""
    _store(request).delete_image(_account(request), _int_id(request.match_info["image_id"]))
    return web.Response(status=204)


async def list_actions(request: web.Request) -> web.Response:
    """``GET /v2/images/{id}/actions``."""
    image_id = _int_id(request.match_info["image_id"])
    page, per_page = _pagination.parse(request.query)
    result = _store(request).list_actions(
        _account(request), image_id, (page - 1) * per_page, per_page
    )
    return _paged(request, "actions", result, page, per_page)


async def create_action(request: web.Request) -> web.Response:
    """``POST /v2/images/{id}/actions``: transfer or convert, 201 in-progress."""
    image_id = _int_id(request.match_info["image_id"])
    kind, region = _bodies.image_action(_body(request))
    action = _store(request).create_action(_account(request), image_id, kind, region)
    return json_response({"action": action}, 201)


async def get_action(request: web.Request) -> web.Response:
    """``GET /v2/images/{id}/actions/{action_id}``."""
    image_id = _int_id(request.match_info["image_id"])
    action_id = _int_id(request.match_info["action_id"])
    action = _store(request).get_action(_account(request), image_id, action_id)
    return json_response({"action": action})


async def list_all_actions(request: web.Request) -> web.Response:
    """``GET /v2/actions`` (outside the Images spec): the caller's actions, as the real API's
    Actions endpoint lists them."""
    page, per_page = _pagination.parse(request.query)
    result = _store(request).list_any_actions(_account(request), (page - 1) * per_page, per_page)
    return _paged(request, "actions", result, page, per_page)


async def get_any_action(request: web.Request) -> web.Response:
    """``GET /v2/actions/{action_id}`` (outside the Images spec): what python-digitalocean's
    ``Action.wait()`` polls for an image action."""
    action_id = _int_id(request.match_info["action_id"])
    return json_response({"action": _store(request).get_any_action(_account(request), action_id)})


async def create_transfer(request: web.Request) -> web.Response:
    """``POST /v2/images/{id}/account_transfer``: 201 ``{"transfer_id": N}`` (0: accepted)."""
    image_id = _int_id(request.match_info["image_id"])
    email, team = _bodies.transfer_create(_body(request))
    transfer_id = _store(request).create_transfer(_account(request), image_id, email, team)
    return json_response({"transfer_id": transfer_id}, 201)


async def accept_transfer(request: web.Request) -> web.Response:
    """``POST .../account_transfer/accept``: 201 with an empty body (the spec's ``no_content``)."""
    image_id = _int_id(request.match_info["image_id"])
    transfer_id, team = _bodies.transfer_accept(_body(request))
    _store(request).accept_transfer(_account(request), image_id, transfer_id, team)
    return web.Response(status=201)


async def cancel_transfer(request: web.Request) -> web.Response:
    """``POST .../account_transfer/cancel``: 204."""
    image_id = _int_id(request.match_info["image_id"])
    transfer_id = _bodies.transfer_ref(_body(request))
    _store(request).cancel_transfer(_account(request), image_id, transfer_id)
    return web.Response(status=204)


async def decline_transfer(request: web.Request) -> web.Response:
    """``POST .../account_transfer/decline``: 204."""
    image_id = _int_id(request.match_info["image_id"])
    transfer_id = _bodies.transfer_ref(_body(request))
    _store(request).decline_transfer(_account(request), image_id, transfer_id)
    return web.Response(status=204)


def build_app(ctx: Context) -> web.Application:
    """The emulator's application, serving ``ctx``."""
    app = web.Application(middlewares=[pipeline])
    app[CONTEXT] = ctx
    # The real API answers "/v2/images/" as "/v2/images" (python-digitalocean sends the slash).
    routes = [
        ("GET", "/v2/images", list_images),
        ("POST", "/v2/images", create_image),
        ("GET", "/v2/images/{image_id}", get_image),
        ("PUT", "/v2/images/{image_id}", update_image),
        ("DELETE", "/v2/images/{image_id}", delete_image),
        ("GET", "/v2/images/{image_id}/actions", list_actions),
        ("POST", "/v2/images/{image_id}/actions", create_action),
        ("GET", "/v2/images/{image_id}/actions/{action_id}", get_action),
        ("POST", "/v2/images/{image_id}/account_transfer", create_transfer),
        ("POST", "/v2/images/{image_id}/account_transfer/accept", accept_transfer),
        ("POST", "/v2/images/{image_id}/account_transfer/cancel", cancel_transfer),
        ("POST", "/v2/images/{image_id}/account_transfer/decline", decline_transfer),
        ("GET", "/v2/actions", list_all_actions),
        ("GET", "/v2/actions/{action_id}", get_any_action),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path + "{trailing_slash:/?}", handler)
    return app
