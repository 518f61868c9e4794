"""Hostile answers: each gives a typed error or a bounded, correct result, never a hang.

The README's "Bad input and hostile answers" table lists these cases; keep them in step.
"""

from __future__ import annotations

import pytest
from aiohttp import web

import do_images
from do_images.testing import Emulator, Fault

from .conftest import FakeTime
from .scripted import scripted_server


def _client(url: object, **options: object) -> do_images.Client:
    return do_images.Client("t", base_url=url, rate_limits=(), max_retries=0, **options)  # type: ignore[arg-type]


async def test_truncated_json_body_is_a_decode_error(emulator: Emulator) -> None:
    emulator.add_images(3)
    emulator.inject(Fault(kind="truncate"))
    async with _client(emulator.url) as client:
        with pytest.raises(do_images.ResponseDecodeError, match="not JSON"):
            [i async for i in client.images.list()]


async def test_json_with_a_wrong_content_type_still_decodes() -> None:
    body = b'{"image": {"id": 5, "name": "x"}}'
    async with scripted_server(lambda r: (200, body, {"Content-Type": "text/plain"})) as server:
        async with _client(server.url) as client:
            assert (await client.images.get(5)).name == "x"


@pytest.mark.parametrize("body", [b"", b"null", b"<html>ok</html>"])
async def test_empty_null_or_html_2xx_is_a_decode_error(body: bytes) -> None:
    async with scripted_server(lambda r: (200, body, {"Content-Type": "text/html"})) as server:
        async with _client(server.url) as client:
            with pytest.raises(do_images.ResponseDecodeError):
                await client.images.get(5)


async def test_absurd_meta_total_is_an_error_at_the_first_empty_page() -> None:
    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        ids = [page] if page <= 3 else []
        body = {"images": [{"id": i} for i in ids], "links": {"pages": {"next": "n"}}}
        return 200, {**body, "meta": {"total": 10**12}}, {}

    seen: list[int | None] = []

    async def walk(client: do_images.Client) -> None:
        async for image in client.images.list(per_page=1, concurrency=4):
            seen.append(image.id)

    async with scripted_server(handler) as server:
        async with _client(server.url) as client:
            # Three items where the total promises a trillion: not passed off as complete.
            with pytest.raises(do_images.ResponseDecodeError, match="page 4 is empty"):
                await walk(client)
    assert seen == [1, 2, 3]
    # Pages 1-4 were needed; at most `concurrency` more were in flight and were cancelled.
    assert len(server.requests) <= 4 + 4


async def test_a_next_link_that_never_ends_stops_at_the_empty_page_past_the_total() -> None:
    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        page = int(request.query["page"])
        links = {"pages": {"next": "https://api.digitalocean.com/v2/images?page=2"}}
        ids = [page] if page <= 4 else []
        body = {"images": [{"id": i} for i in ids], "links": links, "meta": {"total": 4}}
        return 200, body, {}

    async with scripted_server(handler) as server:
        async with _client(server.url) as client:
            ids = [i.id async for i in client.images.list(per_page=1, concurrency=1)]
    assert ids == [1, 2, 3, 4]
    assert len(server.requests) == 5


async def test_a_redirect_is_not_followed_and_the_token_stays_home() -> None:
    async with scripted_server(lambda r: (200, {"image": {"id": 1}}, {})) as elsewhere:
        target = str(elsewhere.url / "v2" / "images" / "1")
        async with scripted_server(lambda r: (302, b"", {"Location": target})) as server:
            async with _client(server.url) as client:
                with pytest.raises(do_images.APIError) as caught:
                    await client.images.get(1)
    assert caught.value.status == 302
    assert elsewhere.requests == []


async def test_a_slow_answer_past_the_timeout_is_a_connection_error(emulator: Emulator) -> None:
    emulator.inject(Fault(kind="latency", delay=0.5, times=None))
    async with _client(emulator.url, timeout=0.05) as client:
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
