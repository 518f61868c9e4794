"""The transport against small hostile servers on 127.0.0.1: bounded bodies, lost DELETE
answers, a caller's session defaults, retry spacing, server text and the client's lifecycle."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

import do_images
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN, FakeTime, leftover_tasks, retrying_client
from .support.scripted import raw_server, scripted_server

IMAGE = b'{"image": {"id": 1, "name": "x"}}'


def _client(url: URL, fake_time: FakeTime | None = None, **options: object) -> do_images.Client:
    timing = {} if fake_time is None else {"sleep": fake_time.sleep, "clock": fake_time.clock}
    return do_images.Client(TOKEN, base_url=url, rate_limits=(), **timing, **options)  # type: ignore[arg-type]


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
        async with _client(url, fake_time, max_response_bytes=1_000_000) as client:
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
        async with _client(url, max_response_bytes=2_000_000) as client:
            with pytest.raises(do_images.ResponseDecodeError, match="max_response_bytes"):
                await client.images.get(1)
    assert len(seen) == 1


async def test_a_huge_error_page_is_bounded_too(fake_time: FakeTime) -> None:
    page = b"<html>" + b"x" * 5_000_000

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502, body=page, content_type="text/html")

    async with raw_server(handler) as (url, seen):
        async with _client(url, fake_time, max_response_bytes=100_000) as client:
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
        async with _client(url, max_response_bytes=len(IMAGE)) as client:
            assert (await client.images.get(1)).name == "x"


# --- 6. a DELETE whose answer was lost -----------------------------------------------------


@pytest.mark.parametrize("lost", ["proxy 502", "dropped connection"])
async def test_a_retried_delete_that_finds_the_image_gone_succeeded(
    fake_time: FakeTime, lost: str
) -> None:
    deleted: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if deleted:
            return web.json_response({"id": "not_found", "message": "gone"}, status=404)
        deleted.append(1)  # carried out, but the answer never reaches the client
        if lost == "proxy 502":
            return web.Response(status=502, body=b"<html>Bad Gateway</html>")
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=204)

    async with raw_server(handler) as (url, seen):
        async with _client(url, fake_time) as client:
            await client.images.delete(7)
    assert [r.method for r in seen] == ["DELETE", "DELETE"]


async def test_a_first_delete_that_finds_nothing_is_still_not_found(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    async with _client(emulator.url, fake_time) as client:
        with pytest.raises(do_images.NotFoundError):
            await client.images.delete(999_999)


# --- 7. a caller's session defaults --------------------------------------------------------


async def test_a_callers_raise_for_status_session_does_not_change_error_mapping() -> None:
    answer = (401, {"id": "unauthorized", "message": "Unable to authenticate you."}, {})
    async with scripted_server(lambda r: answer) as server:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            async with _client(server.url, session=session) as client:
                with pytest.raises(do_images.AuthenticationError, match="Unable to auth"):
                    await client.images.get(1)
    assert len(server.requests) == 1


# --- 11. retry spacing ---------------------------------------------------------------------


async def test_retry_after_zero_still_waits_the_backoff_floor(fake_time: FakeTime) -> None:
    answer = (429, {"id": "too_many_requests", "message": "x"}, {"retry-after": "0"})
    async with scripted_server(lambda r: answer) as server:
        async with _client(server.url, fake_time, max_retries=3) as client:
            with pytest.raises(do_images.RateLimitError):
                await client.images.get(1)
    assert len(server.requests) == 4
    # The floors of retries 1-3: half of 0.5, 1 and 2 seconds.
    assert fake_time.sleeps == [0.25, 0.5, 1.0]


async def test_an_http_date_retry_after_is_honoured() -> None:
    fake_time = FakeTime(start=time.time())
    when = datetime.now(timezone.utc) + timedelta(seconds=20)
    calls = []

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        calls.append(request)
        if len(calls) == 1:
            return (
                429,
                {"id": "too_many_requests", "message": "x"},
                {"retry-after": format_datetime(when, usegmt=True)},
            )
        return 200, {"image": {"id": 1}}, {}

    async with scripted_server(handler) as server:
        async with _client(server.url, fake_time, wall_clock=time.time) as client:
            await client.images.get(1)
    assert len(fake_time.sleeps) == 1
    assert fake_time.sleeps[0] == pytest.approx(20, abs=1.5)


async def test_an_http_date_retry_after_past_the_cap_raises_at_once(fake_time: FakeTime) -> None:
    when = datetime.now(timezone.utc) + timedelta(hours=2)
    headers = {"retry-after": format_datetime(when, usegmt=True)}
    async with scripted_server(lambda r: (429, {"message": "x"}, headers)) as server:
        async with _client(server.url, fake_time, wall_clock=time.time) as client:
            with pytest.raises(do_images.RateLimitError) as raised:
                await client.images.get(1)
    assert len(server.requests) == 1
    assert fake_time.sleeps == []
    assert raised.value.retry_at is not None
    assert raised.value.retry_at.timestamp() == pytest.approx(when.timestamp(), abs=1)


# --- 13. server text -----------------------------------------------------------------------


async def test_server_text_in_errors_is_escaped_and_bounded() -> None:
    hostile = "line1\r\nline2 \x1b]0;pwned\x07\x1b[2J\x00 end\u202e\u2028"
    body = {"id": "bad\nid", "message": hostile + "y" * 5_000_000, "request_id": "r\x1b[1m"}
    async with scripted_server(lambda r: (400, body, {})) as server:
        async with _client(server.url) as client:
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
        async with _client(server.url) as client:
            with pytest.raises(do_images.ResponseDecodeError) as raised:
                await client.images.get(1)
    assert "\x1b" not in str(raised.value)
    assert "\r" not in raised.value.excerpt
    assert len(str(raised.value)) < 600


# --- 15. lifecycle -------------------------------------------------------------------------


async def test_a_call_on_a_closed_client_raises_client_closed_at_once(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    client = _client(emulator.url, fake_time)
    await client.close()
    with pytest.raises(do_images.ClientClosedError):
        await client.images.get(1)
    with pytest.raises(do_images.ClientClosedError):
        [image async for image in client.images.list()]
    assert emulator.requests == []
    assert fake_time.sleeps == []


async def test_calls_in_flight_when_the_client_closes_raise_client_closed() -> None:
    arrived: list[web.Request] = []

    async def slow(request: web.Request) -> web.StreamResponse:
        arrived.append(request)
        await asyncio.sleep(2)
        return web.Response(body=IMAGE, content_type="application/json")

    async with raw_server(slow) as (url, _):
        client = _client(url)
        calls = [asyncio.ensure_future(client.images.get(1)) for _ in range(3)]
        for _ in range(500):  # bounded: the three requests arrive within milliseconds
            if len(arrived) == 3:
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await client.close()
        results = await asyncio.gather(*calls, return_exceptions=True)
        stopped_after = time.monotonic() - started
    assert len(arrived) == 3
    assert all(isinstance(r, do_images.ClientClosedError) for r in results), results
    assert stopped_after < 1.5


async def test_a_call_sleeping_before_a_retry_raises_client_closed_when_closed(
    emulator: Emulator,
) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="status", status=503, times=1))
    client = _client(emulator.url, jitter=lambda: 0.0)
    call = asyncio.ensure_future(client.images.get(stored.id))
    while not emulator.requests:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # now in the 0.25 s backoff before the retry
    await client.close()
    with pytest.raises(do_images.ClientClosedError):
        await call
    assert len(emulator.requests) == 1


async def test_a_derived_client_closes_nothing_it_shares(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    stored = emulator.add_image()
    async with _client(emulator.url, fake_time) as parent:
        async with parent.with_options(timeout=5) as derived:
            await derived.images.get(stored.id)
        assert (await parent.images.get(stored.id)).id == stored.id


async def test_a_client_used_from_a_second_event_loop_says_so(emulator: Emulator) -> None:
    stored = emulator.add_image()
    client = _client(emulator.url)
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
        async with _client(server.url) as client:
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


async def test_garbage_rate_limit_headers_are_ignored(fake_time: FakeTime) -> None:
    headers = {"ratelimit-limit": "lots", "ratelimit-reset": "soon", "retry-after": "-3"}
    body = {"id": "too_many_requests", "message": "slow down"}
    async with scripted_server(lambda r: (429, body, headers)) as server:
        async with do_images.Client(
            "t",
            base_url=server.url,
            rate_limits=(),
            max_retries=1,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            jitter=lambda: 0.0,
        ) as client:
            with pytest.raises(do_images.RateLimitError) as caught:
                await client.images.get(1)
    assert caught.value.retry_after is None
    assert caught.value.reset_at is None
    assert fake_time.sleeps == [0.25]


async def test_5xx_on_get_is_retried_with_backoff(emulator: Emulator, fake_time: FakeTime) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="status", status=503, times=2))
    async with retrying_client(emulator, fake_time) as client:
        image = await client.images.get(stored.id)
    assert image.id == stored.id
    assert [r.status for r in emulator.requests] == [503, 503, 200]
    assert fake_time.sleeps == [0.375, 0.75]


async def test_connection_drop_on_get_is_retried(emulator: Emulator, fake_time: FakeTime) -> None:
    stored = emulator.add_image()
    # aiohttp itself re-sends an idempotent request once when the server closes the
    # connection under it (RFC 9112 9.3.1); the second drop reaches the SDK's retry.
    emulator.inject(Fault(kind="drop", times=2))
    async with retrying_client(emulator, fake_time) as client:
        assert (await client.images.get(stored.id)).id == stored.id
    assert [r.fault for r in emulator.requests] == ["drop", "drop", None]
    assert fake_time.sleeps == [0.375]


@pytest.mark.parametrize("kind", ["status", "drop"])
async def test_post_is_not_retried_on_5xx_or_drop(
    emulator: Emulator, fake_time: FakeTime, kind: str
) -> None:
    emulator.inject(Fault(kind=kind, status=500, method="POST"))
    async with retrying_client(emulator, fake_time) as client:
        with pytest.raises((do_images.ServerError, do_images.APIConnectionError)):
            await client.images.create(name="n", url="https://e.com/x.img", region="nyc3")
    assert len(emulator.requests) == 1
    assert fake_time.sleeps == []


async def test_post_is_retried_after_429_and_creates_once(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=429, method="POST", headers={"retry-after": "7"}))
    async with retrying_client(emulator, fake_time) as client:
        image = await client.images.create(name="once", url="https://e.com/x.img", region="nyc3")
        names = [i.name async for i in client.images.list(private=True)]
    assert [r.status for r in emulator.requests if r.method == "POST"] == [429, 202]
    assert fake_time.sleeps == [7.0]
    assert names.count("once") == 1
    assert image.name == "once"


async def test_a_429_wait_past_the_cap_raises_at_once(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=429, headers={"retry-after": "3600"}))
    async with retrying_client(emulator, fake_time, max_rate_limit_wait=60) as client:
        with pytest.raises(do_images.RateLimitError) as caught:
            await client.images.get(1)
    assert caught.value.retry_after == 3600
    assert caught.value.reset_at is not None
    assert fake_time.sleeps == []
    assert len(emulator.requests) == 1


async def test_max_retries_zero_means_one_attempt(emulator: Emulator, fake_time: FakeTime) -> None:
    emulator.inject(Fault(kind="status", status=502, times=None))
    async with retrying_client(emulator, fake_time, max_retries=0) as client:
        with pytest.raises(do_images.ServerError):
            await client.images.get(1)
    assert len(emulator.requests) == 1


async def test_a_timed_out_get_is_retried(emulator: Emulator, fake_time: FakeTime) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="latency", delay=0.6))
    async with retrying_client(emulator, fake_time, timeout=0.2) as client:
        image = await client.images.get(stored.id)
    assert image.id == stored.id
    # The timed-out exchange was abandoned (so never logged as answered); the retry was.
    assert emulator.faults_served == 1
    assert len(emulator.requests) == 1
    assert fake_time.sleeps == [0.375]


async def test_with_options_overrides_per_call_and_shares_figures(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="latency", delay=0.6, times=None))
    async with retrying_client(emulator, fake_time, timeout=10) as client:
        quick = client.with_options(timeout=0.1, max_retries=1)
        with pytest.raises(do_images.APIConnectionError, match="timed out"):
            await quick.images.get(stored.id)
        assert emulator.faults_served == 2
        assert client.rate_limit is quick.rate_limit
        emulator.clear_faults()
        assert (await quick.images.get(stored.id)).id == stored.id
        assert client.rate_limit is not None


async def test_deadline_stops_retrying_with_the_last_error(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=503, times=None))
    start = fake_time.now
    async with retrying_client(emulator, fake_time, max_retries=50) as client:
        with client.deadline(10), pytest.raises(do_images.ServerError):
            await client.images.get(1)
    assert fake_time.now - start <= 10
    # 0.375 + 0.75 + 1.5 + 3 = 5.625 s of backoff fit; the next 6 s would not.
    assert fake_time.sleeps == [0.375, 0.75, 1.5, 3.0]


async def test_cancelling_a_request_is_not_retried_nor_wrapped(emulator: Emulator) -> None:
    stored = emulator.add_image()
    emulator.inject(Fault(kind="latency", delay=1.0))
    async with do_images.Client("t", base_url=emulator.url, rate_limits=()) as client:
        task = asyncio.create_task(client.images.get(stored.id))
        while emulator.faults_served == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)
        assert emulator.faults_served == 1
        assert emulator.requests == []
        # The connection went back usable: the next call works at once.
        emulator.clear_faults()
        assert (await client.images.get(stored.id)).id == stored.id
    for _ in range(5):
        await asyncio.sleep(0)
    assert leftover_tasks() == set()


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
        async with _client(emulator.url, fake_time) as client:
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
