"""The SDK's whole surface against Stoplight Prism serving the official spec.

Prism validates every request against `images.yaml` and answers a violation with 422 and an
``sl-violations`` header, so a call that succeeds here sent a request the spec accepts; the
answers are the spec's own examples (static server) or data generated from its schemas
(dynamic server), so a call that succeeds also decoded what the spec promises.

Every HTTP exchange goes through an aiohttp trace that records its status and any
``sl-violations``; a test fails if an exchange it did not expect to be refused was. Error
answers and other examples are chosen with Prism's ``Prefer`` header, set as a default
header of the caller's own session (``Client(session=...)``): the SDK adds its headers per
request and keeps the session's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
import attrs
import pytest
import yaml
from prism import PrismPair, prism_pair, spec_path

import do_images
from do_images._clock import Clock

T = TypeVar("T")
TOKEN = "any-token"
SPEC_RATE_LIMIT = do_images.RateLimit(
    limit=5000, remaining=4816, reset_at=datetime.fromtimestamp(1444931833, tz=timezone.utc)
)
EXISTING_IMAGE = 6918990  # the `existing_image` example
TRANSFER_ID = 3164444  # the `images_post_account_transfer_created` example
TEAM_UUID = "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf"


# --- recording what Prism said to each request ---------------------------------------------


@attrs.frozen
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    status: int
    violations: str | None
    """Prism's ``sl-violations`` header: set when the request broke the spec."""


@attrs.define
class Recorder:
    exchanges: list[Exchange] = attrs.Factory(list)
    checked: int = 0
    """How many exchanges the per-test check has already looked at."""

    def trace_config(self) -> aiohttp.TraceConfig:
        async def on_end(
            _session: aiohttp.ClientSession,
            _context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            self.exchanges.append(
                Exchange(
                    params.method,
                    params.url.path,
                    dict(params.url.query),
                    params.response.status,
                    params.response.headers.get("sl-violations"),
                )
            )

        config = aiohttp.TraceConfig()
        config.on_request_end.append(on_end)
        return config

    def new(self) -> list[Exchange]:
        """The exchanges since the last call (or since the current test began)."""
        fresh = self.exchanges[self.checked :]
        self.checked = len(self.exchanges)
        return fresh

    def take_violations(self) -> list[str]:
        """Claim the refused exchanges of this test (they are then not a failure)."""
        fresh = self.new()
        refused = [e.violations for e in fresh if e.violations is not None]
        self.exchanges[len(self.exchanges) - len(fresh) :] = [
            e for e in fresh if e.violations is None
        ]
        self.checked = len(self.exchanges)
        return refused

    @property
    def passed(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.violations is None]


RECORDER = Recorder()


class _Summary:
    """Prints M, the number of SDK requests Prism validated, in pytest's terminal summary."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        covered = covered_operations()
        terminalreporter.write_line(
            f"Prism conformance: {len(RECORDER.passed)} SDK calls passed request validation"
            f" ({len(covered)}/{len(spec_operations())} spec operations exercised)"
        )


_SUMMARY_NAME = "do-images-prism-conformance-summary"


# --- the spec's operations, to check that every one was exercised ----------------------------


def spec_operations() -> dict[tuple[str, str], re.Pattern[str]]:
    """(METHOD, path template) -> a regex matching concrete paths, for every operation."""
    spec = yaml.safe_load(Path(spec_path()).read_text())
    methods = {"get", "put", "post", "delete", "patch"}
    return {
        (method.upper(), template): re.compile(
            re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        )
        for template, item in spec["paths"].items()
        for method in item
        if method in methods
    }


def covered_operations() -> set[tuple[str, str]]:
    operations = spec_operations()
    return {
        key
        for exchange in RECORDER.passed
        for key, pattern in operations.items()
        if key[0] == exchange.method and pattern.match(exchange.path)
    }


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prism(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[PrismPair]:
    """A static and a dynamic `prism mock` on the spec, for the whole module."""
    with prism_pair(tmp_path_factory.mktemp("prism")) as pair:
        if not pytestconfig.pluginmanager.has_plugin(_SUMMARY_NAME):
            pytestconfig.pluginmanager.register(_Summary(), _SUMMARY_NAME)
        yield pair


@pytest.fixture(autouse=True)
def no_unexpected_violations(prism: PrismPair) -> Iterator[None]:
    """Fail a test if Prism refused one of its requests that the test did not claim."""
    RECORDER.new()
    yield
    refused = [e for e in RECORDER.new() if e.violations is not None]
    assert not refused, f"Prism refused requests the SDK sent: {refused}"


@asynccontextmanager
async def sdk(
    url: str, *, prefer: str | None = None, **options: Any
) -> AsyncIterator[do_images.Client]:
    """A Client on `url` through a traced session of ours; `prefer` sets Prism's Prefer."""
    settings: dict[str, Any] = {"rate_limits": (), "max_retries": 0, **options}
    headers = {"Prefer": prefer} if prefer else {}
    async with (
        aiohttp.ClientSession(headers=headers, trace_configs=[RECORDER.trace_config()]) as s,
        do_images.Client(TOKEN, base_url=url, session=s, **settings) as client,
    ):
        yield client


@pytest.fixture
async def client(prism: PrismPair) -> AsyncIterator[do_images.Client]:
    async with sdk(prism.static.url) as c:
        yield c


@pytest.fixture
async def dynamic(prism: PrismPair) -> AsyncIterator[do_images.Client]:
    async with sdk(prism.dynamic.url) as c:
        yield c


async def first_page(paginator: do_images.Paginator[T]) -> do_images.Page[T]:
    async for page in paginator.pages():
        return page
    raise AssertionError("no page")


def aware(value: datetime | None) -> datetime:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() is not None
    return value


def last_query() -> dict[str, str]:
    return RECORDER.exchanges[-1].query


# --- images --------------------------------------------------------------------------------

ALL_IDS = [7555620, 7555621, 63663980]


@pytest.mark.parametrize(
    ("filters", "query"),
    [
        ({}, {}),
        ({"type": "distribution"}, {"type": "distribution"}),
        ({"type": "application"}, {"type": "application"}),
        ({"private": True}, {"private": "true"}),
        ({"private": False}, {"private": "false"}),
        ({"tag_name": "base-image"}, {"tag_name": "base-image"}),
        ({"per_page": 2}, {}),
        (
            {"type": "distribution", "private": True, "tag_name": "prod", "per_page": 1},
            {"type": "distribution", "private": "true", "tag_name": "prod"},
        ),
    ],
)
async def test_images_list_filters(
    client: do_images.Client, filters: dict[str, Any], query: dict[str, str]
) -> None:
    images = [image async for image in client.images.list(**filters)]
    per_page = str(filters.get("per_page", 200))
    assert last_query() == {**query, "page": "1", "per_page": per_page}
    # Prism answers with the first example, "All": 6 images, meta.total 6, `links.pages` {}.
    # The example repeats id 7555621 four times (for four different images); the SDK never
    # yields an id twice in one walk, so 3 come out (a quirk of the example, not a bug).
    assert [image.id for image in images] == ALL_IDS
    assert [image.name for image in images] == [
        "Nifty New Snapshot",
        "Another Snapshot",
        "20.04 (LTS) x64",
    ]
    assert images[2].slug == "ubuntu-20-04-x64"
    assert images[2].public is True
    assert images[0].slug is None
    assert images[0].regions == ("nyc2", "nyc3")
    assert images[0].size_gigabytes == 2.34
    assert aware(images[0].created_at) == datetime(2014, 11, 4, 22, 23, 2, tzinfo=timezone.utc)
    assert len(RECORDER.new()) == 1  # one page: no speculative request


@pytest.mark.parametrize(
    ("example", "filters", "ids", "check"),
    [
        ("All", {}, ALL_IDS, lambda i: i[1].regions == ("nyc2",)),
        ("Snapshots", {"private": True}, [7555620, 7555621], lambda i: i[1].type == "snapshot"),
        (
            "Distribution",
            {"type": "distribution"},
            [63663980],
            lambda i: (i[0].slug, i[0].public) == ("ubuntu-20-04-x64", True),
        ),
        (
            "Custom",
            {"private": True},
            [7555621],
            lambda i: (i[0].type, i[0].distribution) == ("custom", "Arch Linux"),
        ),
        ("Application", {"type": "application"}, [7555621], lambda i: i[0].name == "An APP image"),
        (
            "Tagged",
            {"tag_name": "simple-image"},
            [7555621],
            lambda i: i[0].tags == ("simple-image",),
        ),
    ],
)
async def test_images_list_each_example_decodes(
    prism: PrismPair,
    example: str,
    filters: dict[str, Any],
    ids: list[int],
    check: Callable[[list[do_images.Image]], bool],
) -> None:
    async with sdk(prism.static.url, prefer=f"example={example}") as client:
        page = await first_page(client.images.list(**filters))
        assert client.rate_limit == SPEC_RATE_LIMIT
    assert [image.id for image in page.items] == ids
    assert check(list(page.items))
    assert page.page == 1
    assert page.has_next is False
    assert page.total == (6 if example == "All" else len(ids))
    for image in page.items:
        aware(image.created_at)
        assert image.status == "available"
        assert image.error_message == ""


async def test_images_get_by_id_and_by_slug(client: do_images.Client) -> None:
    by_id = await client.images.get(EXISTING_IMAGE)
    by_slug = await client.images.get("ubuntu-16-04-x64")
    assert [e.path for e in RECORDER.new()] == [
        f"/v2/images/{EXISTING_IMAGE}",
        "/v2/images/ubuntu-16-04-x64",
    ]
    assert by_id == by_slug
    assert by_id.id == EXISTING_IMAGE
    assert by_id.slug == "ubuntu-16-04-x64"
    assert by_id.name == "14.04 x64"
    assert by_id.distribution == "Ubuntu"
    assert by_id.public is True
    assert by_id.type is None  # the example leaves `type` out; nothing is required
    assert by_id.min_disk_size == 20
    assert by_id.tags == ()
    assert len(by_id.regions or ()) == 10
    assert aware(by_id.created_at) == datetime(2014, 10, 17, 20, 24, 33, tzinfo=timezone.utc)
    assert client.rate_limit == SPEC_RATE_LIMIT


async def test_images_get_with_the_clients_own_session(prism: PrismPair) -> None:
    """The default path: no session given, the SDK opens (and closes) its own."""
    async with do_images.Client(
        TOKEN, base_url=prism.static.url, rate_limits=(), max_retries=0
    ) as client:
        image = await client.images.get("ubuntu-16-04-x64")
    assert image.id == EXISTING_IMAGE
    # Not traced (not our session): it succeeded, so Prism accepted it; count it by hand.
    RECORDER.exchanges.append(Exchange("GET", "/v2/images/ubuntu-16-04-x64", {}, 200, None))
    RECORDER.new()


async def test_images_create_with_every_field(client: do_images.Client) -> None:
    image = await client.images.create(
        name="ubuntu-18.04-minimal",
        url="http://cloud-images.ubuntu.com/minimal/releases/bionic/release/ubuntu-18.04-minimal-cloudimg-amd64.img",
        region="nyc3",
        distribution="Ubuntu",
        description="Cloud-optimized image w/ small footprint",
        tags=["base-image", "prod"],
    )
    [exchange] = RECORDER.new()
    assert (exchange.method, exchange.path, exchange.status) == ("POST", "/v2/images", 202)
    assert image.id == 38413969
    assert image.status == "NEW"
    assert image.type == "custom"
    assert image.tags == ("base-image", "prod")
    assert image.regions == ()
    assert image.description == "Cloud-optimized image w/ small footprint"
    assert aware(image.created_at) == datetime(2018, 9, 20, 19, 28, tzinfo=timezone.utc)


async def test_images_create_with_required_fields_only(client: do_images.Client) -> None:
    image = await client.images.create(name="n", url="https://example.com/a.img", region="ams3")
    assert image.id == 38413969


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "new-image-name"},
        {"distribution": "Debian"},
        {"description": "a description"},
        {"name": "new-image-name", "distribution": "Ubuntu", "description": " "},
    ],
)
async def test_images_update(client: do_images.Client, fields: dict[str, str]) -> None:
    image = await client.images.update(7938391, **fields)
    assert image.id == 7938391
    assert image.name == "new-image-name"
    assert image.slug is None
    aware(image.created_at)


async def test_images_delete(client: do_images.Client) -> None:
    assert await client.images.delete(7938391) is None
    [exchange] = RECORDER.new()
    assert (exchange.method, exchange.path, exchange.status) == (
        "DELETE",
        "/v2/images/7938391",
        204,
    )


async def test_images_wait_returns_the_available_image(client: do_images.Client) -> None:
    image = await client.images.wait(EXISTING_IMAGE, timeout=5, poll_interval=0.01)
    assert image.status == "available"
    assert image.id == EXISTING_IMAGE
    assert len(RECORDER.new()) == 1


# --- image actions -------------------------------------------------------------------------


def assert_example_action(action: do_images.Action) -> None:
    """The `get_image_action_response` / `post_image_action_response` example."""
    assert action.id == 36805527
    assert action.status == "in-progress"
    assert action.type == "transfer"
    assert action.resource_id == 7938269
    assert action.resource_type == "image"
    assert action.completed_at is None
    assert aware(action.started_at) == datetime(2014, 11, 14, 16, 42, 45, tzinfo=timezone.utc)
    assert action.region_slug == "nyc3"
    assert action.region is not None
    assert (action.region.slug, action.region.name, action.region.available) == (
        "nyc3",
        "New York 3",
        True,
    )
    assert "image_transfer" in (action.region.features or ())
    assert len(action.region.sizes or ()) == 15


async def test_image_actions_list(client: do_images.Client) -> None:
    page = await first_page(client.image_actions.list(7555620))
    [exchange] = RECORDER.new()
    assert exchange.path == "/v2/images/7555620/actions"
    assert exchange.query == {"page": "1", "per_page": "200"}
    [action] = page.items
    assert (action.id, action.status, action.type) == (29410565, "completed", "transfer")
    assert aware(action.completed_at) > aware(action.started_at)
    assert action.region is not None
    assert action.region.slug == action.region_slug == "nyc2"
    assert action.region.name == "New York 2"
    assert (page.total, page.has_next) == (5, True)


async def test_image_actions_list_sees_the_mock_ignores_page(client: do_images.Client) -> None:
    """The example serves 1 action, says 5 exist and links a next page; the static mock
    answers page 2 and 3 with the same action. The walk follows the link (the served count
    is below the total) and, finding nothing new, says so instead of passing off 1 of 5
    actions as the whole list, or yielding the same action five times."""
    with pytest.raises(do_images.ResponseDecodeError, match="page 3 and the 1 before"):
        _ = [a async for a in client.image_actions.list(7555620, concurrency=1)]
    assert [e.query["page"] for e in RECORDER.new()] == ["1", "2", "3"]


async def test_image_actions_get(client: do_images.Client) -> None:
    # The spec's SCHEMA for this answer is the bare action, but its EXAMPLE (what the real
    # API sends) wraps it as {"action": {...}}: the static server answers with the wrapper.
    assert_example_action(await client.image_actions.get(7938269, 36805527))


async def test_image_actions_transfer(client: do_images.Client) -> None:
    action = await client.image_actions.transfer(7938269, region="nyc3")
    [exchange] = RECORDER.new()
    assert (exchange.method, exchange.status) == ("POST", 201)
    assert_example_action(action)


async def test_image_actions_convert(client: do_images.Client) -> None:
    assert_example_action(await client.image_actions.convert(7938291))


async def test_image_actions_wait_times_out_with_the_decoded_action(
    client: do_images.Client,
) -> None:
    # The only example action is "in-progress" forever: wait gives up at its timeout and
    # hands back the last action it saw, fully decoded.
    example = await client.image_actions.get(7938269, 36805527)
    with pytest.raises(do_images.ActionTimeoutError) as caught:
        await client.image_actions.wait(7938269, example, timeout=0)
    assert caught.value.action == example
    assert caught.value.last == example
    assert len(RECORDER.new()) == 2


# --- account transfers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "recipient",
    [{"recipient_email": "alice@example.com"}, {"recipient_uuid": TEAM_UUID}],
)
async def test_account_transfers_create(
    client: do_images.Client, recipient: dict[str, str]
) -> None:
    transfer_id = await client.account_transfers.create(7555620, **recipient)
    assert transfer_id == TRANSFER_ID
    [exchange] = RECORDER.new()
    assert (exchange.path, exchange.status) == ("/v2/images/7555620/account_transfer", 201)


async def test_account_transfers_accept_cancel_decline(client: do_images.Client) -> None:
    accepted = await client.account_transfers.accept(
        9375231, transfer_id=TRANSFER_ID, recipient_uuid=TEAM_UUID
    )
    cancelled = await client.account_transfers.cancel(9375231, transfer_id=TRANSFER_ID)
    declined = await client.account_transfers.decline(9375231, transfer_id=TRANSFER_ID)
    assert (accepted, cancelled, declined) == (None, None, None)
    assert [(e.path.rsplit("/", 1)[1], e.status) for e in RECORDER.new()] == [
        ("accept", 201),  # the spec gives accept a 201 with no body, the others 204
        ("cancel", 204),
        ("decline", 204),
    ]


# --- error answers, chosen with `Prefer: code=…` ---------------------------------------------

Call = Callable[[do_images.Client], Awaitable[object]]

CALLS: dict[str, Call] = {
    "images.list": lambda c: first_page(c.images.list(type="distribution")),
    "images.get": lambda c: c.images.get(EXISTING_IMAGE),
    "images.create": lambda c: c.images.create(name="n", url="https://e.com/i.img", region="nyc3"),
    "images.update": lambda c: c.images.update(7938391, name="new-image-name"),
    "images.delete": lambda c: c.images.delete(7938391),
    "image_actions.list": lambda c: first_page(c.image_actions.list(7555620)),
    "image_actions.get": lambda c: c.image_actions.get(7938269, 36805527),
    "image_actions.transfer": lambda c: c.image_actions.transfer(7938269, region="nyc2"),
    "image_actions.convert": lambda c: c.image_actions.convert(7938291),
    "account_transfers.create": lambda c: c.account_transfers.create(1, recipient_uuid=TEAM_UUID),
    "account_transfers.accept": lambda c: c.account_transfers.accept(
        1, transfer_id=TRANSFER_ID, recipient_uuid=TEAM_UUID
    ),
    "account_transfers.cancel": lambda c: c.account_transfers.cancel(1, transfer_id=TRANSFER_ID),
    "account_transfers.decline": lambda c: c.account_transfers.decline(1, transfer_id=TRANSFER_ID),
}
# Answers every operation declares, with the example's id and message.
DECLARED: dict[int, tuple[type[do_images.APIError], str, str]] = {
    401: (do_images.AuthenticationError, "unauthorized", "Unable to authenticate you."),
    429: (do_images.RateLimitError, "too_many_requests", "API rate limit exceeded."),
    500: (do_images.ServerError, "server_error", "Unexpected server-side error"),
}
NOT_FOUND = (
    do_images.NotFoundError,
    "not_found",
    "The resource you requested could not be found.",
)
# An undeclared code gets the `default` answer ("unexpected_error").
DEFAULT = ("example_error", "some error message")


def error_cases() -> Iterator[Any]:
    for name in CALLS:
        for code, expected in DECLARED.items():
            yield pytest.param(name, code, *expected, id=f"{name}-{code}")
        if name not in ("images.list", "images.create"):  # the two without a 404
            yield pytest.param(name, 404, *NOT_FOUND, id=f"{name}-404")
    yield pytest.param("images.list", 404, do_images.NotFoundError, *DEFAULT, id="list-404-dflt")
    yield pytest.param("images.get", 418, do_images.APIError, *DEFAULT, id="get-418-default")
    yield pytest.param("images.get", 503, do_images.ServerError, *DEFAULT, id="get-503-default")
    yield pytest.param("images.create", 422, do_images.UnprocessableEntityError, *DEFAULT, id="422")


@pytest.mark.parametrize(("call", "code", "error", "error_id", "message"), list(error_cases()))
async def test_error_answers_map_to_typed_errors(
    prism: PrismPair,
    call: str,
    code: int,
    error: type[do_images.APIError],
    error_id: str,
    message: str,
) -> None:
    async with sdk(prism.static.url, prefer=f"code={code}") as client:
        with pytest.raises(do_images.APIError) as caught:
            await CALLS[call](client)
        assert client.rate_limit == SPEC_RATE_LIMIT  # error answers refresh it too
    assert type(caught.value) is error
    assert (caught.value.status, caught.value.id, caught.value.message) == (code, error_id, message)
    assert caught.value.request_id is None
    if isinstance(caught.value, do_images.RateLimitError):
        # The error's reset_at is local time, measured against the answer's Date (the
        # server's clock): the spec's example stamp (2015) is long past, so the limit frees now.
        assert caught.value.reset_at is not None
        assert abs((caught.value.reset_at - datetime.now(timezone.utc)).total_seconds()) < 60
    [exchange] = RECORDER.new()  # max_retries=0: exactly one request
    assert exchange.status == code
    assert exchange.violations is None


@pytest.mark.parametrize(
    "call",
    [
        "account_transfers.create",
        "account_transfers.accept",
        "account_transfers.cancel",
        "account_transfers.decline",
    ],
)
async def test_bad_request_example_carries_request_id(prism: PrismPair, call: str) -> None:
    async with sdk(prism.static.url, prefer="code=400") as client:
        with pytest.raises(do_images.APIError) as caught:
            await CALLS[call](client)
    assert type(caught.value) is do_images.APIError
    assert (caught.value.status, caught.value.id) == (400, "bad_request")
    assert caught.value.message == "error parsing request body"
    assert caught.value.request_id == "4851a473-1621-42ea-b2f9-5071c0ea8414"


async def test_retries_against_prism_only_for_idempotent_calls(prism: PrismPair) -> None:
    sleeps: list[float] = []

    class Recording(Clock):
        async def sleep(self, seconds: float) -> None:
            sleeps.append(seconds)

    async with sdk(prism.static.url, prefer="code=500", max_retries=2, clock=Recording()) as client:
        with pytest.raises(do_images.ServerError):
            await client.images.get(EXISTING_IMAGE)
        assert len(RECORDER.new()) == 3  # GET: first attempt + 2 retries
        with pytest.raises(do_images.ServerError):
            await client.image_actions.convert(7938291)
        assert len(RECORDER.new()) == 1  # POST: never re-sent after a 5xx
    assert len(sleeps) == 2


# --- Prism's validation is live: requests the spec refuses get a 422 -------------------------


async def test_prism_refuses_a_distribution_outside_the_spec_enum(
    client: do_images.Client,
) -> None:
    # The SDK passes `distribution` through (the API adds distributions); the spec's enum
    # does not know this one, so Prism refuses it: proof that the other calls were checked.
    with pytest.raises(do_images.UnprocessableEntityError) as caught:
        await client.images.update(7938391, distribution="NixOS")
    assert caught.value.status == 422
    [violations] = RECORDER.take_violations()
    assert '"location":["request","body","distribution"]' in violations


async def test_prism_refuses_a_region_outside_the_spec_enum(client: do_images.Client) -> None:
    # The SDK accepts any well-formed region slug (new regions appear: "atl1" opened in
    # 2022), but the spec's `region_slug` enum lists 15 regions, so Prism refuses it.
    with pytest.raises(do_images.UnprocessableEntityError):
        await client.images.create(name="n", url="https://e.com/i.img", region="atl1")
    [violations] = RECORDER.take_violations()
    assert '"location":["request","body","region"]' in violations
    # The action body is `anyOf: [image_action_base, image_action_transfer]` and
    # {"type": "transfer", "region": "atl1"} matches image_action_base (extra properties
    # allowed; Prism ignores the discriminator), so the same region passes there.
    await client.image_actions.transfer(7938269, region="atl1")
    assert RECORDER.take_violations() == []


# --- the dynamic server: answers generated from the schemas ----------------------------------


async def test_dynamic_images_decode(dynamic: do_images.Client) -> None:
    page = await first_page(dynamic.images.list())
    got = await dynamic.images.get(EXISTING_IMAGE)
    created = await dynamic.images.create(name="n", url="https://e.com/i.img", region="nyc3")
    updated = await dynamic.images.update(7938391, name="m")
    for image in [*page.items, got, created, updated]:
        assert isinstance(image, do_images.Image)
        if image.created_at is not None:
            aware(image.created_at)
    assert len(RECORDER.new()) == 4


async def test_dynamic_image_actions_decode_the_bare_action(dynamic: do_images.Client) -> None:
    # Generated from the SCHEMA, these answers are the bare action (no {"action": …}
    # wrapper, unlike the examples and the real API); the SDK falls back to the bare body.
    actions = [
        await dynamic.image_actions.get(7938269, 36805527),
        await dynamic.image_actions.transfer(7938269, region="nyc3"),
        await dynamic.image_actions.convert(7938291),
    ]
    page = await first_page(dynamic.image_actions.list(7555620, concurrency=1))
    for action in [*actions, *page.items]:
        assert isinstance(action, do_images.Action)
        assert isinstance(action.id, int)
        assert action.status in ("in-progress", "completed", "errored", None)
        if action.started_at is not None:
            aware(action.started_at)
    assert len(RECORDER.new()) == 4


async def test_dynamic_waits_follow_the_generated_status(dynamic: do_images.Client) -> None:
    action = await dynamic.image_actions.get(7938269, 36805527)
    if action.status == "completed":
        assert await dynamic.image_actions.wait(7938269, action, timeout=0) == action
    elif action.status == "errored":
        with pytest.raises(do_images.ActionFailedError) as failed:
            await dynamic.image_actions.wait(7938269, action, timeout=0)
        assert failed.value.action == action
    else:
        with pytest.raises(do_images.ActionTimeoutError):
            await dynamic.image_actions.wait(7938269, action, timeout=0)
    image = await dynamic.images.get(EXISTING_IMAGE)
    outcome: object
    try:
        outcome = await dynamic.images.wait(EXISTING_IMAGE, timeout=0)
    except do_images.ImageFailedError as exc:
        outcome = exc.image
    except do_images.WaitTimeoutError as exc:
        outcome = exc.last
    assert outcome == image


async def test_dynamic_account_transfer_create(dynamic: do_images.Client) -> None:
    assert isinstance(await dynamic.account_transfers.create(1, recipient_email="a@b.c"), int)
    await dynamic.account_transfers.accept(1, transfer_id=2, recipient_uuid=TEAM_UUID)
    await dynamic.account_transfers.cancel(1, transfer_id=2)
    await dynamic.account_transfers.decline(1, transfer_id=2)
    await dynamic.images.delete(3)


# --- last: the whole surface was exercised -------------------------------------------------


def test_every_spec_operation_passed_validation(request: pytest.FixtureRequest) -> None:
    ran = {item.name for item in request.session.items if item.module is request.module}
    defined = {name for name in dir(request.module) if name.startswith("test_")}
    if not all(any(r == d or r.startswith(f"{d}[") for r in ran) for d in defined):
        pytest.skip("only part of the module was selected; coverage needs all of it")
    missing = set(spec_operations()) - covered_operations()
    assert not missing, f"spec operations no SDK call exercised: {sorted(missing)}"
    assert len(RECORDER.passed) >= 100
