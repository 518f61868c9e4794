"""Error answers map to typed errors with their fields; bad bodies never leak KeyError."""

from __future__ import annotations

import pytest

import do_images
from do_images._errors import error_from_response
from do_images._windows import MAX_PAUSE
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN, FakeTime
from .support.scripted import scripted_server

NOW = 1_800_000_000.0
DO_ERROR = {"id": "some_id", "message": "Some message.", "request_id": "req-1"}

# status, fields, headers -> class, id, message, request_id: the mapping as a table, no server.
MAPPING = [
    (400, DO_ERROR, {}, do_images.APIError, "some_id", "Some message.", "req-1"),
    (401, DO_ERROR, {}, do_images.AuthenticationError, "some_id", "Some message.", "req-1"),
    (403, DO_ERROR, {}, do_images.APIError, "some_id", "Some message.", "req-1"),
    (404, DO_ERROR, {}, do_images.NotFoundError, "some_id", "Some message.", "req-1"),
    (422, DO_ERROR, {}, do_images.UnprocessableEntityError, "some_id", "Some message.", "req-1"),
    (429, DO_ERROR, {}, do_images.RateLimitError, "some_id", "Some message.", "req-1"),
    (500, DO_ERROR, {}, do_images.ServerError, "some_id", "Some message.", "req-1"),
    (503, {}, {}, do_images.ServerError, None, "no error body", None),
    (
        418,
        {"message": 7, "id": ["x"]},
        {"x-request-id": "hdr"},
        do_images.APIError,
        None,
        "no error body",
        "hdr",
    ),
    (404, {"message": "m"}, {"x-request-id": "hdr"}, do_images.NotFoundError, None, "m", "hdr"),
    (404, {"message": "m", "request_id": 5}, {}, do_images.NotFoundError, None, "m", None),
]


@pytest.mark.parametrize(
    ("status", "fields", "headers", "cls", "error_id", "message", "request_id"), MAPPING
)
def test_error_mapping(
    status: int,
    fields: dict[str, object],
    headers: dict[str, str],
    cls: type[do_images.APIError],
    error_id: str | None,
    message: str,
    request_id: str | None,
) -> None:
    error = error_from_response(status, headers, fields, b"", wall=NOW)
    assert type(error) is cls
    assert (error.status, error.id, error.message, error.request_id) == (
        status,
        error_id,
        message,
        request_id,
    )


def test_a_non_json_error_body_is_quoted_escaped_and_bounded() -> None:
    body = b"<html>\x1b[2J Bad Gateway</html>" + b"!" * 1000
    error = error_from_response(502, {}, {}, body, wall=NOW)
    assert isinstance(error, do_images.ServerError)
    assert error.message.startswith("unexpected answer: '<html>\\x1b[2J Bad Gateway")
    assert "\x1b" not in str(error)
    assert len(error.message) <= 501


def test_a_429_carries_when_to_retry() -> None:
    headers = {"ratelimit-reset": str(int(NOW) + 30), "retry-after": "12"}
    error = error_from_response(429, headers, DO_ERROR, b"", wall=NOW)
    assert isinstance(error, do_images.RateLimitError)
    assert error.retry_after == 12.0
    assert error.reset_at is not None
    assert error.reset_at.timestamp() == NOW + 30


@pytest.mark.parametrize("huge", ["3e11", "1e308", "inf", "99999999999999999999"])
def test_a_huge_server_time_is_clamped_never_overflows(huge: str) -> None:
    headers = {"ratelimit-reset": "9" * 30, "retry-after": huge}
    error = error_from_response(429, headers, DO_ERROR, b"", wall=NOW)
    assert isinstance(error, do_images.RateLimitError)
    assert error.retry_after == MAX_PAUSE
    assert error.reset_at is not None
    assert error.reset_at.timestamp() == NOW + MAX_PAUSE


async def test_401_is_authentication_error_with_fields() -> None:
    async with Emulator(seed=False, rate_limits=(), tokens={"good": "alice"}) as emu:
        async with do_images.Client("wrong", base_url=emu.url, rate_limits=()) as client:
            with pytest.raises(do_images.AuthenticationError) as caught:
                await client.images.get(1)
    error = caught.value
    assert (error.status, error.id) == (401, "unauthorized")
    assert error.message
    assert error.request_id
    assert isinstance(error, do_images.APIError)


async def test_404_is_not_found_with_request_id(client: do_images.Client) -> None:
    with pytest.raises(do_images.NotFoundError) as caught:
        await client.images.get(987654)
    assert (caught.value.status, caught.value.id) == (404, "not_found")
    assert caught.value.request_id
    assert caught.value.request_id in str(caught.value)


async def test_422_is_unprocessable(emulator: Emulator, client: do_images.Client) -> None:
    emulator.inject(Fault(kind="status", status=422, path=r"^/v2/images$", method="POST"))
    with pytest.raises(do_images.UnprocessableEntityError) as caught:
        await client.images.create(name="x", url="https://example.com/x.img", region="nyc3")
    assert caught.value.status == 422
    assert caught.value.id == "unprocessable_entity"


async def test_429_after_retries_is_rate_limit_error_with_reset_at(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=429, times=None, headers={"retry-after": "2"}))
    async with do_images.Client(
        TOKEN,
        base_url=emulator.url,
        rate_limits=(),
        max_retries=2,
        clock=fake_time,
    ) as client:
        with pytest.raises(do_images.RateLimitError) as caught:
            await client.images.get(1)
    assert caught.value.status == 429
    assert caught.value.id == "too_many_requests"
    assert caught.value.reset_at is not None
    assert caught.value.reset_at.tzinfo is not None
    assert caught.value.retry_after == 2
    assert len(emulator.requests) == 3


async def test_500_after_retries_is_server_error(
    emulator: Emulator, client: do_images.Client, fake_time: FakeTime
) -> None:
    emulator.inject(Fault(kind="status", status=500, times=None))
    with pytest.raises(do_images.ServerError) as caught:
        await client.images.get(1)
    assert (caught.value.status, caught.value.id) == (500, "server_error")
    assert len(emulator.requests) == 6  # the first attempt and max_retries=5


async def test_an_html_5xx_page_is_a_server_error(emulator: Emulator, fake_time: FakeTime) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    emulator.inject(Fault(kind="status", status=502, body=page, content_type="text/html"))
    async with do_images.Client(
        TOKEN, base_url=emulator.url, rate_limits=(), max_retries=0
    ) as client:
        with pytest.raises(do_images.ServerError) as caught:
            await client.images.get(1)
    assert caught.value.status == 502
    assert "502 Bad Gateway" in caught.value.message


async def test_non_json_2xx_is_a_decode_error(emulator: Emulator, client: do_images.Client) -> None:
    emulator.inject(Fault(kind="non_json"))
    with pytest.raises(do_images.ResponseDecodeError) as caught:
        await client.images.get(1)
    assert caught.value.status == 200
    assert caught.value.excerpt


@pytest.mark.parametrize(
    "body",
    [
        {"images": "not-a-list", "meta": {"total": 1}},
        {"nothing": []},
        [1, 2, 3],
        {"images": [{"id": "seven"}]},
        {"images": [{"id": 1, "created_at": "yesterday"}]},
        {"images": [{"id": 1, "regions": "nyc3"}]},
        {"images": [None]},
    ],
)
async def test_wrongly_shaped_list_bodies_are_decode_errors(body: object) -> None:
    async with scripted_server(lambda request: (200, body, {})) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            with pytest.raises(do_images.ResponseDecodeError):
                [image async for image in client.images.list()]


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("get", {"images": []}),
        ("get", {"image": "x"}),
        ("get", {"image": {"id": 1, "public": "yes"}}),
        ("action", {"action": {"id": 1, "started_at": 12}}),
        ("action", ["x"]),
        ("transfer", {"transfer": 1}),
        ("transfer", {"transfer_id": "12"}),
    ],
)
async def test_wrongly_shaped_single_bodies_are_decode_errors(call: str, body: object) -> None:
    async with scripted_server(lambda request: (200, body, {})) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            calls = {
                "get": lambda: client.images.get(1),
                "action": lambda: client.image_actions.get(1, 2),
                "transfer": lambda: client.account_transfers.create(1, recipient_email="a@b.co"),
            }
            with pytest.raises(do_images.ResponseDecodeError) as caught:
                await calls[call]()
    assert not isinstance(caught.value, (KeyError, AttributeError))


async def test_decode_error_names_the_field() -> None:
    body = {"images": [{"id": 1}, {"id": 2, "created_at": 5}], "meta": {"total": 2}}
    async with scripted_server(lambda request: (200, body, {})) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            with pytest.raises(do_images.ResponseDecodeError, match=r"images\[1\]\.created_at"):
                [image async for image in client.images.list()]


async def test_unlisted_status_is_plain_api_error() -> None:
    body = {"id": "forbidden", "message": "You do not have access", "request_id": "r-1"}
    async with scripted_server(lambda request: (403, body, {})) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            with pytest.raises(do_images.APIError) as caught:
                await client.images.delete(5)
    assert type(caught.value) is do_images.APIError
    assert (caught.value.status, caught.value.id, caught.value.request_id) == (
        403,
        "forbidden",
        "r-1",
    )


async def test_request_id_falls_back_to_the_header() -> None:
    async with scripted_server(
        lambda request: (404, {"id": "not_found", "message": "gone"}, {"x-request-id": "hdr-7"})
    ) as server:
        async with do_images.Client("t", base_url=server.url, rate_limits=()) as client:
            with pytest.raises(do_images.NotFoundError) as caught:
                await client.images.get(5)
    assert caught.value.request_id == "hdr-7"


async def test_rate_limit_is_refreshed_by_every_answer_errors_included(
    emulator: Emulator, client: do_images.Client
) -> None:
    assert client.rate_limit is None
    emulator.add_image()
    [image async for image in client.images.list()]
    first = client.rate_limit
    assert first is not None
    assert first.limit is not None
    assert first.remaining is not None
    with pytest.raises(do_images.NotFoundError):
        await client.images.get(424242)
    second = client.rate_limit
    assert second is not None
    assert second is not first
    assert second.reset_at is not None
    assert second.reset_at.tzinfo is not None


async def test_connection_refused_is_api_connection_error(fake_time: FakeTime) -> None:
    async with scripted_server(lambda request: (200, {}, {})) as server:
        url = server.url
    async with do_images.Client(
        "t", base_url=url, rate_limits=(), max_retries=1, clock=fake_time
    ) as client:
        with pytest.raises(do_images.APIConnectionError) as caught:
            await client.images.get(1)
    assert caught.value.cause is not None
    # The cause is the exception's __cause__, so tracebacks show it (issue 15).
    assert caught.value.__cause__ is caught.value.cause
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__suppress_context__
    assert len(fake_time.sleeps) == 1
    # The message names the scheme actually used, not aiohttp's "ssl:default".
    assert f"cannot connect to http://127.0.0.1:{url.port}" in str(caught.value)
    assert "ssl" not in str(caught.value)
