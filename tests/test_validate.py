"""Bad arguments raise ValueError/TypeError naming the argument, before any request."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import do_images
from do_images.testing import Emulator

Call = Callable[[do_images.Client], Awaitable[Any] | Any]
NAN, INF = math.nan, math.inf

BAD_CALLS: list[tuple[str, Call, type[Exception], str]] = [
    ("per_page 0", lambda c: c.images.list(per_page=0), ValueError, "per_page"),
    ("per_page 201", lambda c: c.images.list(per_page=201), ValueError, "per_page"),
    ("per_page str", lambda c: c.images.list(per_page="20"), TypeError, "per_page"),
    ("actions per_page", lambda c: c.image_actions.list(1, per_page=500), ValueError, "per_page"),
    ("type", lambda c: c.images.list(type="snapshot"), ValueError, "type"),
    ("private str", lambda c: c.images.list(private="true"), TypeError, "private"),
    ("concurrency 0", lambda c: c.images.list(concurrency=0), ValueError, "concurrency"),
    (
        "empty name",
        lambda c: c.images.create(name=" ", url="https://e.com/x", region="nyc3"),
        ValueError,
        "name",
    ),
    (
        "url scheme",
        lambda c: c.images.create(name="n", url="ftp://e.com/x", region="nyc3"),
        ValueError,
        "url",
    ),
    (
        "url host",
        lambda c: c.images.create(name="n", url="https:///x.img", region="nyc3"),
        ValueError,
        "url",
    ),
    (
        "region",
        lambda c: c.images.create(name="n", url="https://e.com/x", region="New York"),
        ValueError,
        "region",
    ),
    (
        "tags str",
        lambda c: c.images.create(name="n", url="https://e.com/x", region="nyc3", tags="prod"),
        TypeError,
        "tags",
    ),
    ("get 0", lambda c: c.images.get(0), ValueError, "image_id_or_slug"),
    ("get -1", lambda c: c.images.get(-1), ValueError, "image_id_or_slug"),
    ("get float", lambda c: c.images.get(1.5), TypeError, "image_id_or_slug"),
    ("get bool", lambda c: c.images.get(True), TypeError, "image_id_or_slug"),
    ("get slash", lambda c: c.images.get("a/b"), ValueError, "image_id_or_slug"),
    ("get empty", lambda c: c.images.get(""), ValueError, "image_id_or_slug"),
    ("update slug", lambda c: c.images.update("ubuntu", name="x"), TypeError, "image_id"),
    ("update empty name", lambda c: c.images.update(1, name=""), ValueError, "name"),
    ("update nothing", lambda c: c.images.update(1), ValueError, "name"),
    ("delete 0", lambda c: c.images.delete(0), ValueError, "image_id"),
    ("wait timeout", lambda c: c.images.wait(1, timeout=-1), ValueError, "timeout"),
    ("wait timeout nan", lambda c: c.images.wait(1, timeout=NAN), ValueError, "timeout"),
    ("wait interval nan", lambda c: c.images.wait(1, poll_interval=NAN), ValueError, "poll_int"),
    ("wait interval inf", lambda c: c.images.wait(1, poll_interval=INF), ValueError, "poll_int"),
    ("action wait nan", lambda c: c.image_actions.wait(1, 2, timeout=NAN), ValueError, "timeout"),
    ("wait interval", lambda c: c.images.wait(1, poll_interval=0), ValueError, "poll_interval"),
    ("action id", lambda c: c.image_actions.get(1, 0), ValueError, "action_id"),
    ("transfer region", lambda c: c.image_actions.transfer(1, region=None), TypeError, "region"),
    ("transfer bad", lambda c: c.image_actions.transfer(1, region="x"), ValueError, "region"),
    ("convert id", lambda c: c.image_actions.convert("1"), TypeError, "image_id"),
    ("wait action", lambda c: c.image_actions.wait(1, 0), ValueError, "action_or_id"),
    (
        "both recipients",
        lambda c: c.account_transfers.create(1, recipient_email="a@b.c", recipient_uuid="u"),
        ValueError,
        "recipient_email or recipient_uuid",
    ),
    (
        "no recipient",
        lambda c: c.account_transfers.create(1),
        ValueError,
        "recipient_email or recipient_uuid",
    ),
    (
        "accept uuid",
        lambda c: c.account_transfers.accept(1, transfer_id=2, recipient_uuid=""),
        ValueError,
        "recipient_uuid",
    ),
    (
        "cancel id",
        lambda c: c.account_transfers.cancel(1, transfer_id=0),
        ValueError,
        "transfer_id",
    ),
    (
        "decline id",
        lambda c: c.account_transfers.decline(1, transfer_id=None),
        TypeError,
        "transfer_id",
    ),
]


async def _run(call: Call, client: do_images.Client) -> None:
    result = call(client)
    if isinstance(result, do_images.Paginator):
        [item async for item in result]
    else:
        await result


@pytest.mark.parametrize(
    ("call", "error", "names"), [case[1:] for case in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
async def test_bad_arguments_fail_before_any_request(
    emulator: Emulator, client: do_images.Client, call: Call, error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        await _run(call, client)
    assert emulator.requests == []


# Every numeric option refuses NaN, and infinity where it means nothing, before anything runs.
BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"timeout": INF}, "timeout"),
    ({"timeout": NAN}, "timeout"),
    ({"connect_timeout": NAN}, "connect_timeout"),
    ({"max_rate_limit_wait": NAN}, "max_rate_limit_wait"),
    ({"rate_limits": ((2, INF),)}, "rate_limits: .* seconds"),
    ({"rate_limits": ((2, NAN),)}, "rate_limits: .* seconds"),
    ({"rate_limits": ((INF, 1.0),)}, "rate_limits: .* max_requests"),
    ({"max_response_bytes": 0}, "max_response_bytes"),
    ({"max_response_bytes": 1.5}, "max_response_bytes"),
    ({"rate_limits": ((2, 1.0),), "rate_limiter": object()}, "rate_limits or rate_limiter"),
    ({"rate_limiter": object()}, "rate_limiter"),
    ({"trust_env": "yes"}, "trust_env"),
]


@pytest.mark.parametrize(("options", "names"), BAD_OPTIONS, ids=[n for _, n in BAD_OPTIONS])
def test_bad_client_options_are_refused_naming_them(options: dict[str, Any], names: str) -> None:
    with pytest.raises((ValueError, TypeError), match=names):
        do_images.Client("t", **options)


@pytest.mark.parametrize("seconds", [NAN, INF, 0, -1])
def test_a_deadline_must_be_a_finite_positive_number(seconds: float) -> None:
    client = do_images.Client("t")
    with pytest.raises(ValueError, match="seconds"), client.deadline(seconds):
        pass


def test_with_options_refuses_nan_too() -> None:
    client = do_images.Client("t")
    with pytest.raises(ValueError, match="timeout"):
        client.with_options(timeout=NAN)


def test_infinite_max_rate_limit_wait_and_wait_timeout_mean_no_cap() -> None:
    # Infinity has a meaning here: wait as long as the API asks.
    do_images.Client("t", max_rate_limit_wait=INF)


SECRET = "dop_v1_abcdef0123456789"


@pytest.mark.parametrize(
    "token",
    [
        f"{SECRET[:9]}\n{SECRET[9:]}",
        f"{SECRET}\r\nX-Evil: 1",
        f"dop\x00{SECRET}",
        f"{SECRET}\udcff",  # a byte the environment could not decode (issue 15, class 12)
        f"{SECRET}\u00e9",
        f"{SECRET[:9]} {SECRET[9:]}",
    ],
    ids=["newline", "header injection", "NUL", "surrogate", "non-ASCII", "space"],
)
def test_a_token_that_is_not_printable_ascii_is_refused_without_echoing_it(token: str) -> None:
    # (Surrounding whitespace, such as a file's last newline, is stripped, not refused.)
    with pytest.raises(ValueError, match="token") as raised:
        do_images.Client(token)
    error = raised.value
    for shown in (str(error), repr(error), repr(error.args), repr(error.__cause__)):
        assert SECRET[4:] not in shown
        assert SECRET[4:] not in shown.encode("unicode_escape").decode()
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None


def test_a_surrogate_token_from_the_environment_is_refused_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", f"{SECRET}\udcff")
    with pytest.raises(ValueError, match="token") as raised:
        do_images.Client()
    assert SECRET[4:] not in repr(raised.value)


# Issue 15 class 20: a lone surrogate (an undecodable byte) in any text argument is refused
# naming the argument, before any request, rather than a UnicodeEncodeError while sending.
BAD = "x\udcffy"
SURROGATES: list[tuple[str, Call, str]] = [
    ("name", lambda c: c.images.create(name=BAD, url="https://e.com/x", region="nyc3"), "name"),
    ("url", lambda c: c.images.create(name="n", url=f"https://e.com/{BAD}", region="nyc3"), "url"),
    (
        "description",
        lambda c: c.images.create(name="n", url="https://e.com/x", region="nyc3", description=BAD),
        "description",
    ),
    (
        "distribution",
        lambda c: c.images.create(name="n", url="https://e.com/x", region="nyc3", distribution=BAD),
        "distribution",
    ),
    (
        "tags",
        lambda c: c.images.create(name="n", url="https://e.com/x", region="nyc3", tags=["a", BAD]),
        "tags",
    ),
    ("region", lambda c: c.image_actions.transfer(1, region=BAD), "region"),
    ("update name", lambda c: c.images.update(1, name=BAD), "name"),
    ("update description", lambda c: c.images.update(1, description=BAD), "description"),
    ("tag_name", lambda c: c.images.list(tag_name=BAD), "tag_name"),
    ("slug", lambda c: c.images.get(BAD), "image_id_or_slug"),
    (
        "recipient_email",
        lambda c: c.account_transfers.create(1, recipient_email=f"{BAD}@example.com"),
        "recipient_email",
    ),
    (
        "recipient_uuid",
        lambda c: c.account_transfers.accept(1, transfer_id=2, recipient_uuid=BAD),
        "recipient_uuid",
    ),
]


@pytest.mark.parametrize(
    ("call", "names"), [case[1:] for case in SURROGATES], ids=[c[0] for c in SURROGATES]
)
async def test_a_surrogate_in_text_is_refused_naming_the_argument(
    emulator: Emulator, client: do_images.Client, call: Call, names: str
) -> None:
    with pytest.raises(ValueError, match=names) as raised:
        await _run(call, client)
    assert type(raised.value) is ValueError  # not a UnicodeEncodeError from deep inside
    assert emulator.requests == []


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:hunter2@api.digitalocean.com",
        "https://:hunter2@api.digitalocean.com",
        "https://api.digitalocean.com/?x=hunter2",
        "https://api.digitalocean.com/#hunter2",
    ],
)
def test_a_base_url_with_credentials_query_or_fragment_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url") as raised:
        do_images.Client("t", base_url=base_url)
    assert "hunter2" not in str(raised.value)
