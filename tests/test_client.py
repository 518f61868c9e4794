"""Client configuration: token sources, base_url rules, sessions, headers, secrecy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

import do_images
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN, FakeTime
from .support.scripted import scripted_server, serving


def test_token_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGITALOCEAN_TOKEN", raising=False)
    monkeypatch.delenv("DIGITALOCEAN_ACCESS_TOKEN", raising=False)
    with pytest.raises(ValueError, match="DIGITALOCEAN_TOKEN"):
        do_images.Client()
    monkeypatch.setenv("DIGITALOCEAN_ACCESS_TOKEN", "from-access")
    do_images.Client()
    with pytest.raises(ValueError, match="token"):
        do_images.Client("  ")


async def test_env_token_order_and_headers_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "first")
    monkeypatch.setenv("DIGITALOCEAN_ACCESS_TOKEN", "second")
    async with scripted_server(lambda r: (200, {"image": {"id": 1}}, {})) as server:
        async with do_images.Client(base_url=server.url) as client:
            await client.images.get(1)
    headers = server.requests[0].headers
    assert headers["Authorization"] == "Bearer first"
    agent = headers["User-Agent"]
    assert agent.startswith(f"do-images/{do_images.__version__} aiohttp/{aiohttp.__version__}")
    assert "Python/3." in agent


@pytest.mark.parametrize(
    ("base_url", "ok"),
    [
        ("https://api.digitalocean.com", True),
        (URL("https://proxy.example.com/do"), True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:9", True),
        ("http://[::1]:9", True),
        ("http://api.example.com", False),
        ("ftp://api.example.com", False),
        ("api.digitalocean.com", False),
    ],
)
def test_base_url_rules(base_url: str | URL, ok: bool) -> None:
    if ok:
        do_images.Client("t", base_url=base_url)
    else:
        with pytest.raises(ValueError, match="base_url"):
            do_images.Client("t", base_url=base_url)


def test_plain_http_elsewhere_needs_an_explicit_opt_in() -> None:
    client = do_images.Client("t", base_url="http://api.example.com", allow_insecure_http=True)
    assert client.base_url == URL("http://api.example.com/")


async def test_a_path_prefix_is_kept(emulator: Emulator) -> None:
    async with scripted_server(lambda r: (200, {"image": {"id": 3}}, {})) as server:
        async with do_images.Client("t", base_url=server.url / "proxy" / "do/") as client:
            image = await client.images.get(3)
    assert image.id == 3
    assert server.requests[0].path == "/proxy/do/v2/images/3"


async def test_a_callers_session_is_used_and_left_open(emulator: Emulator) -> None:
    emulator.add_image()
    async with aiohttp.ClientSession() as session:
        async with do_images.Client(TOKEN, base_url=emulator.url, session=session) as client:
            assert [i async for i in client.images.list()]
        assert not session.closed
    assert len(emulator.requests) == 1


async def test_close_without_context_manager(emulator: Emulator) -> None:
    client = do_images.Client(TOKEN, base_url=emulator.url)
    emulator.add_image()
    assert len([i async for i in client.images.list()]) == 1
    await client.close()
    await client.close()


async def test_token_never_in_repr_str_errors_or_logs(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, fake_time: FakeTime
) -> None:
    caplog.set_level(logging.DEBUG, logger="do_images")
    emulator.inject(Fault(kind="status", status=503, times=2))
    emulator.inject(Fault(kind="drop", times=1, path="/v2/images/2"))
    seen: list[str] = []
    async with do_images.Client(
        TOKEN, base_url=emulator.url, clock=fake_time, max_retries=0
    ) as client:
        seen += [repr(client), str(client), repr(client.images), repr(client.images.list())]
        for call in (
            lambda: client.images.get(1),
            lambda: client.images.get(1),
            lambda: client.images.get(2),
            lambda: client.images.get(3),
        ):
            with pytest.raises(do_images.DigitalOceanError) as caught:
                await call()
            error = caught.value
            seen += [repr(error), str(error), repr(error.__cause__), repr(error.__context__)]
            seen += [repr(getattr(error, "cause", None)), repr(vars(error))]
        seen.append(repr(client.rate_limit))
    seen += [record.getMessage() for record in caplog.records]
    assert caplog.records, "DEBUG logging should have recorded the requests"
    for text in seen:
        assert TOKEN not in text
        assert "SECRET" not in text


# --- proxies from the environment -----------------------------------------------------------


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A plain-HTTP forward proxy on 127.0.0.1 that records each absolute URL it relays."""
    relayed: list[str] = []

    async def relay(request: web.Request) -> web.StreamResponse:
        target = request.raw_path  # a proxy is sent the absolute URL
        relayed.append(target)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with aiohttp.ClientSession() as upstream:
            async with upstream.request(
                request.method, target, headers=headers, data=await request.read()
            ) as answer:
                body = await answer.read()
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
                return web.Response(status=answer.status, body=body, headers=kept)

    async with serving(relay) as url:
        yield str(url), relayed


HOP_HEADERS = {"host", "connection", "proxy-connection", "keep-alive", "transfer-encoding",
               "content-length", "content-encoding"}  # fmt: skip


async def test_trust_env_takes_the_proxy_from_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = emulator.add_image()
    async with forward_proxy() as (proxy, relayed):
        for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy)
        async with do_images.Client(TOKEN, base_url=emulator.url, trust_env=True) as client:
            assert (await client.images.get(stored.id)).id == stored.id
        assert relayed == [str(emulator.url / "v2" / "images" / str(stored.id))]
        # Off by default: the same environment, no proxy.
        async with do_images.Client(TOKEN, base_url=emulator.url) as client:
            await client.images.get(stored.id)
        assert len(relayed) == 1
        # NO_PROXY is honoured.
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with do_images.Client(TOKEN, base_url=emulator.url, trust_env=True) as client:
            await client.images.get(stored.id)
        assert len(relayed) == 1
    assert len(emulator.requests) == 3
