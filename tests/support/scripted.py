"""Small HTTP servers on 127.0.0.1 for answers the emulator would never give.

`scripted_server` takes a function from request to (status, body, headers) and records what
came; `raw_server` lets the handler write its answer itself (streams, odd encodings); both
stand on `serving`, which runs any handler on a free loopback port.
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
RawHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(handler: RawHandler) -> AsyncIterator[URL]:
    """Serve every method and path with `handler` on 127.0.0.1; yields the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield URL(f"http://127.0.0.1:{runner.addresses[0][1]}")
    finally:
        await runner.cleanup()


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
    requests: list[web.Request] = []
    bodies: list[bytes] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        requests.append(request)
        bodies.append(await request.read())
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

    async with serving(answer) as url:
        scripted = Scripted(url)
        scripted.requests, scripted.bodies = requests, bodies
        yield scripted


@asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[tuple[URL, list[web.Request]]]:
    """A server whose handler writes its answer itself; yields its URL and the requests seen."""
    seen: list[web.Request] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return await handler(request)

    async with serving(answer) as url:
        yield url, seen
