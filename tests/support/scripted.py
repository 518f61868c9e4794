"""A scripted HTTP server on 127.0.0.1 for answers the emulator would never give.

Tests hand it a function from request to (status, body, headers); it records what came.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aiohttp import web
from yarl import URL

Answer = tuple[int, Any, dict[str, str]]
Handler = Callable[[web.Request], Answer | Awaitable[Answer]]


class Scripted:
    def __init__(self, url: URL) -> None:
        self.url = url
        self.requests: list[web.Request] = []
        self.bodies: list[bytes] = []

    @property
    def queries(self) -> list[dict[str, str]]:
        return [dict(r.query) for r in self.requests]


@asynccontextmanager
async def scripted_server(handler: Handler) -> AsyncIterator[Scripted]:
    holder: list[Scripted] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        holder[0].requests.append(request)
        holder[0].bodies.append(await request.read())
        result = handler(request)
        status, body, headers = result if isinstance(result, tuple) else await result
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, headers=headers)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status,
            body=orjson.dumps(body),
            headers={"Content-Type": "application/json", **headers},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.append(Scripted(URL(f"http://127.0.0.1:{port}")))
    try:
        yield holder[0]
    finally:
        await runner.cleanup()
