"""One attempt against small hostile servers on 127.0.0.1: bounded bodies, a caller's
session defaults, server text, decoding, redirects, cookies, timeouts, the event loop, tracing."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib

import aiohttp
import pytest
from aiohttp import web

import do_images
from do_images._http import sdk_session
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN, FakeTime, loopback_client
from .support.scripted import raw_server, scripted_server

IMAGE = b'{"image": {"id": 1, "name": "x"}}'


# --- 4. bounded bodies ----------------------------------------------------------------------


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    chunk = b" " * 65536
    for _ in range(100_000):  # 6.5 GB if nobody stops reading: bounded, but never reached
        await response.write(chunk)
    return response


async def test_an_endless_body_stops_at_max_response_bytes_and_is_not_retried(
    fake_time: FakeTime,
) -> None:
    async with raw_server(_endless) as (url, seen):
        async with loopback_client(url, fake_time, max_response_bytes=1_000_000) as client:
            started = time.monotonic()
            with pytest.raises(do_images.ResponseDecodeError, match="max_response_bytes"):
                await client.images.get(1)
    assert time.monotonic() - started < 5
    assert len(seen) == 1
    assert fake_time.sleeps == []


async def test_a_gzip_bomb_is_bounded_after_decompression() -> None:
    bomb = gzip.compress(b"0" * 200_000_000, compresslevel=9)  # 200 MB in about 200 KB
    assert len(bomb) < 400_000

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    async with raw_server(handler) as (url, seen):
        async with loopback_client(url, max_response_bytes=2_000_000) as client:
            with pytest.raises(do_images.ResponseDecodeError, match="max_response_bytes"):
                await client.images.get(1)
    assert len(seen) == 1


async def test_a_huge_error_page_is_bounded_too(fake_time: FakeTime) -> None:
    page = b"<html>" + b"x" * 5_000_000

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502, body=page, content_type="text/html")

    async with raw_server(handler) as (url, seen):
        async with loopback_client(url, fake_time, max_response_bytes=100_000) as client:
            with pytest.raises(do_images.ResponseDecodeError, match="max_response_bytes"):
                await client.images.get(1)
    # Refused on its declared length: not read, not retried.
    assert len(seen) == 1


def test_max_response_bytes_is_checked() -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        do_images.Client("t", max_response_bytes=0)


async def test_a_normal_compressed_answer_still_decodes() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = zlib.compress(IMAGE)
        return web.Response(
            body=body, headers={"Content-Type": "application/json", "Content-Encoding": "deflate"}
        )

    async with raw_server(handler) as (url, _):
        async with loopback_client(url, max_response_bytes=len(IMAGE)) as client:
            assert (await client.images.get(1)).name == "x"


# --- 7. a caller's session defaults --------------------------------------------------------


async def test_a_callers_raise_for_status_session_does_not_change_error_mapping() -> None:
    answer = (401, {"id": "unauthorized", "message": "Unable to authenticate you."}, {})
    async with scripted_server(lambda r: answer) as server:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            async with loopback_client(server.url, session=session) as client:
                with pytest.raises(do_images.AuthenticationError, match="Unable to auth"):
                    await client.images.get(1)
    assert len(server.requests) == 1


# --- 13. server text -----------------------------------------------------------------------


async def test_server_text_in_errors_is_escaped_and_bounded() -> None:
    hostile = "line1\r\nline2 \x1b]0;pwned\x07\x1b[2J\x00 end\u202e\u2028"
    body = {"id": "bad\nid", "message": hostile + "y" * 5_000_000, "request_id": "r\x1b[1m"}
    async with scripted_server(lambda r: (400, body, {})) as server:
        async with loopback_client(server.url) as client:
            with pytest.raises(do_images.APIError) as raised:
                await client.images.get(1)
    error = raised.value
    text = str(error)
    for raw in ("\r", "\n", "\x1b", "\x07", "\x00", "\u202e", "\u2028"):
        assert raw not in text
        assert raw not in error.message
    assert "\\x1b]0;pwned\\x07" in text
    assert len(text) < 1_000
    assert len(error.message) <= 501
    assert error.id == "bad\\x0aid"
    assert error.request_id == "r\\x1b[1m"


async def test_a_decode_error_excerpt_is_escaped() -> None:
    body = b"\x1b[2J<html>\r\n" + b"z" * 10_000
    async with scripted_server(lambda r: (200, body, {"Content-Type": "text/html"})) as server:
        async with loopback_client(server.url) as client:
            with pytest.raises(do_images.ResponseDecodeError) as raised:
                await client.images.get(1)
    assert "\x1b" not in str(raised.value)
    assert "\r" not in raised.value.excerpt
    assert len(str(raised.value)) < 600


async def test_a_client_used_from_a_second_event_loop_says_so(emulator: Emulator) -> None:
    stored = emulator.add_image()
    client = loopback_client(emulator.url)
    await client.images.get(stored.id)  # first used on this loop

    def on_another_loop() -> None:
        async def use() -> None:
            with pytest.raises(RuntimeError, match="another event loop"):
                await client.images.get(stored.id)

        asyncio.run(use())

    await asyncio.to_thread(on_another_loop)
    # The client still works on its own loop, and closes cleanly.
    assert (await client.images.get(stored.id)).id == stored.id
    await client.close()
    assert len(emulator.requests) == 2


async def test_the_sdks_own_session_keeps_no_cookies(emulator: Emulator) -> None:
    calls: list[web.Request] = []

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        calls.append(request)
        return 200, {"image": {"id": 1}}, {"Set-Cookie": "session=abc; Path=/"}

    async with scripted_server(handler) as server:
        async with loopback_client(server.url) as client:
            await client.images.get(1)
            await client.images.get(1)
    assert "Cookie" not in calls[1].headers


def _one_try(url: object, **options: object) -> do_images.Client:
    return do_images.Client("t", base_url=url, rate_limits=(), max_retries=0, **options)  # type: ignore[arg-type]


async def test_truncated_json_body_is_a_decode_error(emulator: Emulator) -> None:
    emulator.add_images(3)
    emulator.inject(Fault(kind="truncate"))
    async with _one_try(emulator.url) as client:
        with pytest.raises(do_images.ResponseDecodeError, match="not JSON"):
            [i async for i in client.images.list()]


async def test_json_with_a_wrong_content_type_still_decodes() -> None:
    body = b'{"image": {"id": 5, "name": "x"}}'
    async with scripted_server(lambda r: (200, body, {"Content-Type": "text/plain"})) as server:
        async with _one_try(server.url) as client:
            assert (await client.images.get(5)).name == "x"


@pytest.mark.parametrize("body", [b"", b"null", b"<html>ok</html>"])
async def test_empty_null_or_html_2xx_is_a_decode_error(body: bytes) -> None:
    async with scripted_server(lambda r: (200, body, {"Content-Type": "text/html"})) as server:
        async with _one_try(server.url) as client:
            with pytest.raises(do_images.ResponseDecodeError):
                await client.images.get(5)


async def test_a_redirect_is_not_followed_and_the_token_stays_home() -> None:
    async with scripted_server(lambda r: (200, {"image": {"id": 1}}, {})) as elsewhere:
        target = str(elsewhere.url / "v2" / "images" / "1")
        async with scripted_server(lambda r: (302, b"", {"Location": target})) as server:
            async with _one_try(server.url) as client:
                with pytest.raises(do_images.APIError) as caught:
                    await client.images.get(1)
    assert caught.value.status == 302
    assert elsewhere.requests == []


async def test_a_slow_answer_past_the_timeout_is_a_connection_error(emulator: Emulator) -> None:
    emulator.inject(Fault(kind="latency", delay=0.5, times=None))
    async with _one_try(emulator.url, timeout=0.05) as client:
        with pytest.raises(do_images.APIConnectionError, match="timed out"):
            await client.images.get(1)


# --- tracing with OpenTelemetry's aiohttp instrumentation -----------------------------------


async def test_opentelemetry_traces_every_attempt_without_the_token(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        stored = emulator.add_image()
        emulator.inject(Fault(kind="status", status=503, times=1))
        async with loopback_client(emulator.url, fake_time) as client:
            await client.images.get(stored.id)
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    # One span per attempt: the 503 and the retry that succeeded.
    assert [span.attributes.get("http.status_code") for span in spans if span.attributes] == [
        503,
        200,
    ]
    recorded = repr([(span.name, dict(span.attributes or {}), span.events) for span in spans])
    assert TOKEN not in recorded
    assert "Bearer" not in recorded
    assert "authorization" not in recorded.lower()


# --- issue 15 class 4: invalid UTF-8 inside a JSON string -----------------------------------

BAD_UTF8 = b"\xff\xfe"


async def test_invalid_utf8_in_a_200_get_is_a_decode_error() -> None:
    body = b'{"image": {"id": 1, "name": "' + BAD_UTF8 + b'"}}'
    async with scripted_server(lambda r: (200, body, {"Content-Type": "application/json"})) as s:
        async with loopback_client(s.url, max_retries=0) as client:
            with pytest.raises(do_images.ResponseDecodeError, match="UTF-8") as caught:
                await client.images.get(1)
    assert caught.value.status == 200


async def test_invalid_utf8_in_a_listing_page_is_a_decode_error() -> None:
    body = b'{"images": [{"id": 1, "name": "' + BAD_UTF8 + b'"}], "meta": {"total": 1}}'
    async with scripted_server(lambda r: (200, body, {"Content-Type": "application/json"})) as s:
        async with loopback_client(s.url, max_retries=0) as client:
            with pytest.raises(do_images.ResponseDecodeError, match=r"images\[0\].*UTF-8"):
                [image async for image in client.images.list()]


async def test_invalid_utf8_in_a_404_body_stays_not_found_with_a_safe_message() -> None:
    body = b'{"id": "not_found", "message": "' + BAD_UTF8 + b'"}'
    async with scripted_server(lambda r: (404, body, {"Content-Type": "application/json"})) as s:
        async with loopback_client(s.url, max_retries=0) as client:
            with pytest.raises(do_images.NotFoundError) as caught:
                await client.images.get(1)
    assert caught.value.status == 404
    assert caught.value.message.isprintable()
    str(caught.value).encode()  # printable and encodable: no surrogate slipped through


# --- issue 15 class 9: time queued for a pooled connection is not the attempt's ----------------


def _one_connection(kind: str) -> aiohttp.ClientSession:
    if kind == "caller's session":  # told by trace hooks
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
    return sdk_session(trust_env=False, limit=1)  # told by the SDK's own connector


@pytest.mark.parametrize("kind", ["caller's session", "the SDK's own session"])
async def test_a_post_queued_for_the_only_connection_is_not_timed_out(kind: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            await asyncio.sleep(2.0)  # holds the pool's only connection
            return web.Response(body=IMAGE, content_type="application/json")
        created = b'{"image": {"id": 2, "name": "n"}}'
        return web.Response(status=202, body=created, content_type="application/json")

    async with raw_server(handler) as (url, seen):
        async with _one_connection(kind) as session:
            async with loopback_client(url, session=session, timeout=0.5, max_retries=0) as client:
                slow = asyncio.ensure_future(client.with_options(timeout=30).images.get(1))
                for _ in range(500):  # bounded: the GET arrives within milliseconds
                    if seen:
                        break
                    await asyncio.sleep(0.01)
                started = time.monotonic()
                image = await client.images.create(
                    name="n", url="https://e.com/x.img", region="nyc3"
                )
                queued = time.monotonic() - started
                assert (await slow).id == 1
    assert image.id == 2
    # The POST waited for the connection far longer than its 0.5 s timeout, and was sent once.
    assert queued > 1.0
    assert [r.method for r in seen] == ["GET", "POST"]


async def test_the_attempt_timeout_still_bounds_an_answer_once_connected() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3.0)
        return web.Response(body=IMAGE, content_type="application/json")

    async with raw_server(handler) as (url, seen):
        async with loopback_client(url, timeout=0.3, max_retries=0) as client:
            started = time.monotonic()
            with pytest.raises(do_images.APIConnectionError, match="timed out"):
                await client.images.get(1)
            elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert len(seen) == 1
