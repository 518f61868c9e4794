"""The call policy against the emulator and hostile servers: retries and their spacing, lost
DELETE answers, the deadline, cancellation, close(), and the limiter's acquire/answered pairs."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from aiohttp import web

import do_images
from do_images._clock import Clock
from do_images._governor import Governor
from do_images._windows import MAX_PAUSE, RateWindow
from do_images.testing import Emulator, Fault

from .support.fakes import TOKEN, FakeTime, leftover_tasks, loopback_client, retrying_client
from .support.scripted import raw_server, scripted_server

IMAGE = b'{"image": {"id": 1, "name": "x"}}'


class NoJitter(Clock):
    """The system clock with the backoff's jitter fixed at 0."""

    def jitter(self) -> float:
        return 0.0


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
        async with loopback_client(url, fake_time) as client:
            await client.images.delete(7)
    assert [r.method for r in seen] == ["DELETE", "DELETE"]


async def test_a_first_delete_that_finds_nothing_is_still_not_found(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    async with loopback_client(emulator.url, fake_time) as client:
        with pytest.raises(do_images.NotFoundError):
            await client.images.delete(999_999)


# --- 11. retry spacing ---------------------------------------------------------------------


async def test_retry_after_zero_still_waits_the_backoff_floor(fake_time: FakeTime) -> None:
    answer = (429, {"id": "too_many_requests", "message": "x"}, {"retry-after": "0"})
    async with scripted_server(lambda r: answer) as server:
        async with loopback_client(server.url, fake_time, max_retries=3) as client:
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
        async with loopback_client(server.url, fake_time) as client:
            await client.images.get(1)
    assert len(fake_time.sleeps) == 1
    assert fake_time.sleeps[0] == pytest.approx(20, abs=1.5)


async def test_an_http_date_retry_after_past_the_cap_raises_at_once() -> None:
    fake_time = FakeTime(start=time.time())
    when = datetime.now(timezone.utc) + timedelta(minutes=50)
    headers = {"retry-after": format_datetime(when, usegmt=True)}
    async with scripted_server(lambda r: (429, {"message": "x"}, headers)) as server:
        async with loopback_client(server.url, fake_time) as client:
            with pytest.raises(do_images.RateLimitError) as raised:
                await client.images.get(1)
    assert len(server.requests) == 1
    assert fake_time.sleeps == []
    assert raised.value.retry_after == pytest.approx(50 * 60, abs=2)


# --- 15. lifecycle -------------------------------------------------------------------------


async def test_a_call_on_a_closed_client_raises_client_closed_at_once(
    emulator: Emulator, fake_time: FakeTime
) -> None:
    client = loopback_client(emulator.url, fake_time)
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
        client = loopback_client(url)
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
    client = loopback_client(emulator.url, NoJitter())
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
    async with loopback_client(emulator.url, fake_time) as parent:
        async with parent.with_options(timeout=5) as derived:
            await derived.images.get(stored.id)
        assert (await parent.images.get(stored.id)).id == stored.id


async def test_garbage_rate_limit_headers_are_ignored() -> None:
    fake_time = FakeTime(jitter=0.0)
    headers = {"ratelimit-limit": "lots", "ratelimit-reset": "soon", "retry-after": "-3"}
    body = {"id": "too_many_requests", "message": "slow down"}
    async with scripted_server(lambda r: (429, body, headers)) as server:
        async with do_images.Client(
            "t",
            base_url=server.url,
            rate_limits=(),
            max_retries=1,
            clock=fake_time,
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


# --- issue 19, the call side: the limiter hears `answered` once per attempt it let go -------


class Counting:
    """A custom RateLimiter that lets everything go and counts its calls."""

    def __init__(self) -> None:
        self.acquired = 0
        self.answered_count = 0

    async def acquire(self, key: str, max_wait: float) -> float | None:
        self.acquired += 1
        return None

    async def pause(self, key: str, seconds: float) -> None:
        return None

    async def answered(self, key: str) -> None:
        await asyncio.sleep(0)  # a real limiter may await (Redis): the report must survive it
        self.answered_count += 1


async def _settled(limiter: Counting) -> None:
    for _ in range(100):  # bounded: a report still running finishes within a few loop turns
        if limiter.answered_count >= limiter.acquired:
            return
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("scenario", "attempts"),
    [("success", 1), ("5xx retried", 3), ("timeout", 2), ("refused", 2), ("cancelled", 1)],
)
async def test_every_acquire_is_answered_exactly_once(
    emulator: Emulator, fake_time: FakeTime, scenario: str, attempts: int
) -> None:
    stored = emulator.add_image()
    limiter = Counting()
    url = emulator.url
    options: dict[str, object] = {"max_retries": attempts - 1}
    if scenario == "5xx retried":
        emulator.inject(Fault(kind="status", status=503, times=2))
    elif scenario == "timeout":
        emulator.inject(Fault(kind="latency", delay=2.0, times=None))
        options["timeout"] = 0.1
    elif scenario == "refused":
        async with scripted_server(lambda r: (200, {}, {})) as gone:
            url = gone.url  # nothing listens there any more
    elif scenario == "cancelled":
        emulator.inject(Fault(kind="latency", delay=5.0))
    async with do_images.Client(
        TOKEN,
        base_url=url,
        rate_limiter=limiter,
        clock=fake_time,
        **options,  # type: ignore[arg-type]
    ) as client:
        call = asyncio.ensure_future(client.images.get(stored.id))
        if scenario == "cancelled":
            for _ in range(500):  # bounded: the request arrives within milliseconds
                if emulator.faults_served:
                    break
                await asyncio.sleep(0.01)
            call.cancel()
        result = (await asyncio.gather(call, return_exceptions=True))[0]
        await _settled(limiter)
    expected = {
        "success": do_images.Image,
        "5xx retried": do_images.Image,
        "timeout": do_images.APIConnectionError,
        "refused": do_images.APIConnectionError,
        "cancelled": asyncio.CancelledError,
    }[scenario]
    assert isinstance(result, expected), result
    assert limiter.acquired == attempts
    assert limiter.answered_count == attempts


class CountingGovernor(Governor):
    """The in-process governor, with `answered` overridden to count."""

    answered_count = 0

    async def answered(self, key: str) -> None:
        self.answered_count += 1
        await super().answered(key)


async def test_a_governor_subclass_that_overrides_answered_is_told(emulator: Emulator) -> None:
    # The plain governor is told without a task; a subclass's own `answered` still runs.
    stored = emulator.add_image()
    limiter = CountingGovernor([RateWindow(100, 60.0)])
    async with do_images.Client(TOKEN, base_url=emulator.url, rate_limiter=limiter) as client:
        for _ in range(3):
            await client.images.get(stored.id)
        await asyncio.sleep(0)  # the last report runs as its own task
    assert limiter.answered_count == 3


# --- issue 15 class 1: a default client paces itself through any number of pages -----------


async def test_a_default_client_walks_400_pages_at_250_a_minute(fake_time: FakeTime) -> None:
    pages = 400
    arrived: list[float] = []  # the fake clock when each page request reached the server

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        arrived.append(fake_time.now)
        page = int(request.query["page"])
        links = {"pages": {"next": "n"}} if page < pages else {}
        return 200, {"images": [{"id": page}], "links": links, "meta": {"total": pages}}, {}

    async with scripted_server(handler) as server:
        # DigitalOcean's limits and the default max_rate_limit_wait; one page in flight, so the
        # fake clock moves only between requests and the server sees them as the client sent.
        async with do_images.Client(TOKEN, base_url=server.url, clock=fake_time) as client:
            ids = [image.id async for image in client.images.list(per_page=1, concurrency=1)]
    assert ids == list(range(1, pages + 1))
    assert len(arrived) == pages
    assert arrived[-1] - arrived[0] >= 60  # 400 requests cannot fit in one minute
    # No 60 s span saw more than 250 requests (a sliding window over the arrival times).
    start = 0
    for end, at in enumerate(arrived):
        while arrived[start] <= at - 60:
            start += 1
        assert end - start + 1 <= 250, f"{end - start + 1} requests within 60 s at {end}"
    # Every wait was the governor's, each well within the default max_rate_limit_wait.
    assert fake_time.sleeps
    assert max(fake_time.sleeps) <= 61


# --- issue 15 class 6: a huge server time is clamped, and never crashes a later call --------


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "3e11"},
        {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"},
        {"ratelimit-remaining": "0", "ratelimit-reset": "99999999999"},
    ],
    ids=["retry-after seconds", "retry-after date", "ratelimit-reset"],
)
async def test_a_huge_server_time_pauses_at_most_max_pause(
    fake_time: FakeTime, headers: dict[str, str]
) -> None:
    status = 200 if "ratelimit-reset" in headers else 429
    answers = [(status, {"image": {"id": 1}, "message": "slow down"}, headers)]

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        return answers.pop(0) if answers else (200, {"image": {"id": 1}}, {})

    async with scripted_server(handler) as server:
        async with loopback_client(server.url, fake_time) as client:
            if status == 429:
                with pytest.raises(do_images.RateLimitError) as first:
                    await client.images.get(1)
                assert first.value.retry_after == MAX_PAUSE
            else:
                await client.images.get(1)
            # The pause the answer set: a typed error naming a sane time, not a ValueError.
            with pytest.raises(do_images.RateLimitError) as later:
                await client.images.get(1)
            assert later.value.reset_at is not None
            assert later.value.reset_at.timestamp() <= fake_time.now + MAX_PAUSE
            # And it ends: an hour later the token may go again.
            fake_time.now += MAX_PAUSE
            assert (await client.images.get(1)).id == 1
    assert len(server.requests) == 2


# --- issue 15 class 8: a host whose clock is off still pauses the real time -----------------


async def test_pauses_are_measured_on_the_servers_clock() -> None:
    fake_time = FakeTime(start=time.time())
    skew = 600.0  # the server's clock is 10 minutes ahead of this host's

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        server_now = int(fake_time.now + skew)
        headers = {
            "Date": format_datetime(datetime.fromtimestamp(server_now, timezone.utc), usegmt=True),
            "ratelimit-limit": "5000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(server_now + 3),
        }
        return 200, {"image": {"id": 1}}, headers

    async with scripted_server(handler) as server:
        async with loopback_client(server.url, fake_time) as client:
            await client.images.get(1)
            await client.images.get(1)
    assert fake_time.sleeps == [3.0]


async def test_an_http_date_retry_after_is_measured_on_the_servers_clock() -> None:
    fake_time = FakeTime(start=time.time())
    skew = -600.0  # the server's clock is 10 minutes behind this host's
    answers: list[int] = []

    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        server_now = int(fake_time.now + skew)
        answers.append(server_now)
        if len(answers) > 1:
            return 200, {"image": {"id": 1}}, {}
        when = datetime.fromtimestamp(server_now + 5, timezone.utc)
        date = datetime.fromtimestamp(server_now, timezone.utc)
        headers = {
            "Date": format_datetime(date, usegmt=True),
            "retry-after": format_datetime(when, usegmt=True),
        }
        return 429, {"id": "too_many_requests", "message": "x"}, headers

    async with scripted_server(handler) as server:
        async with loopback_client(server.url, fake_time) as client:
            await client.images.get(1)
    assert fake_time.sleeps == [5.0]


# --- issue 15 class 9: a request that never left may be sent again, even a POST -------------


async def test_a_post_that_never_left_is_retried(fake_time: FakeTime) -> None:
    async with scripted_server(lambda r: (200, {}, {})) as gone:
        url = gone.url  # nothing listens there any more
    async with loopback_client(url, fake_time, max_retries=2) as client:
        with pytest.raises(do_images.APIConnectionError, match="cannot connect"):
            await client.images.create(name="n", url="https://e.com/x.img", region="nyc3")
    assert fake_time.sleeps == [0.375, 0.75]


class Unanswering:
    """A limiter written for 0.2: acquire and pause, no `answered`."""

    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self, key: str, max_wait: float) -> float | None:
        self.acquired += 1
        return None

    async def pause(self, key: str, seconds: float) -> None:
        return None


async def test_a_limiter_without_answered_still_works(emulator: Emulator) -> None:
    stored = emulator.add_image()
    limiter = Unanswering()
    async with do_images.Client(TOKEN, base_url=emulator.url, rate_limiter=limiter) as client:  # type: ignore[arg-type]
        assert (await client.images.get(stored.id)).id == stored.id
    assert limiter.acquired == 1


async def test_rate_limits_take_rate_windows_and_pairs(fake_time: FakeTime) -> None:
    def handler(request: web.Request) -> tuple[int, object, dict[str, str]]:
        return 200, {"image": {"id": 1}}, {}

    async with scripted_server(handler) as server:
        windows = (RateWindow(2, 10.0), (3, 60.0))
        async with do_images.Client(
            TOKEN, base_url=server.url, rate_limits=windows, clock=fake_time
        ) as client:
            for _ in range(3):
                await client.images.get(1)
    # The third request waited for the 2-per-10-s window (plus its travel margin).
    assert len(fake_time.sleeps) == 1
    assert 10 <= fake_time.sleeps[0] <= 10.5


def test_clock_must_be_a_clock() -> None:
    with pytest.raises(TypeError, match="clock"):
        do_images.Client("t", clock=time.monotonic)  # type: ignore[arg-type]
