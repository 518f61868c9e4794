"""``images``: table, JSON and JSON Lines output, waits, and errors against an emulator."""

from __future__ import annotations

import asyncio
import json

import do_images
from do_images.testing import Emulator, Fault

from .conftest import Cli
from .helpers import TOKEN, arun, image, one_error_line


async def test_list_json_round_trips_the_models(emu: Emulator, cli: Cli) -> None:
    result = await cli("images", "list", "--type", "application", "-o", "json")
    assert result.code == 0, result.err
    listed = [image(item) for item in json.loads(result.out)]
    async with do_images.Client(TOKEN, base_url=emu.url) as client:
        expected = [i async for i in client.images.list(type="application")]
    assert listed == expected
    assert "docker-20-04" in {i.slug for i in listed}


async def test_list_jsonl_streams_every_page(emu: Emulator, cli: Cli) -> None:
    result = await cli("-o", "jsonl", "images", "list", "--type", "distribution", "--per-page", "5")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    slugs = [json.loads(line)["slug"] for line in lines]
    assert "ubuntu-24-04-x64" in slugs
    assert len(slugs) == len(set(slugs)) > 10
    pages = [r for r in emu.requests if r.path == "/v2/images"]
    assert len(pages) == -(-len(slugs) // 5)


async def test_list_private_table_and_tag(cli: Cli) -> None:
    result, tagged = await asyncio.gather(
        cli("images", "list", "--private"), cli("images", "list", "--tag", "prod")
    )
    assert result.code == 0, result.err
    assert "arch-minimal" in result.out
    assert "ubuntu" not in result.out
    assert tagged.code == 0
    assert "web-01 2024-11-02" in tagged.out
    assert "arch-minimal" not in tagged.out


async def test_get_by_slug_and_by_id(cli: Cli) -> None:
    by_slug = await cli("images", "get", "ubuntu-24-04-x64", "-o", "json")
    assert by_slug.code == 0, by_slug.err
    found = image(json.loads(by_slug.out))
    assert found.slug == "ubuntu-24-04-x64"
    by_id = await cli("images", "get", str(found.id))
    assert by_id.code == 0
    header, row = by_id.out.splitlines()
    assert header.startswith("ID")
    assert row.startswith(str(found.id))


async def test_not_found_exits_3_with_one_line(cli: Cli) -> None:
    result = await cli("images", "get", "999999999")
    assert result.code == 3
    assert result.out == ""
    assert one_error_line(result).startswith("do-images: error: image 999999999 not found (404,")


async def test_server_error_without_retries_exits_3(emu: Emulator, cli: Cli) -> None:
    emu.inject(Fault(kind="status", status=500, times=None))
    result = await cli("--max-retries", "0", "images", "list")
    assert result.code == 3
    assert "500" in one_error_line(result)
    assert len(emu.requests) == 1


async def test_server_error_is_retried(emu: Emulator, cli: Cli) -> None:
    emu.inject(Fault(kind="status", status=503, times=None))
    result = await cli("--max-retries", "1", "images", "get", "ubuntu-24-04-x64")
    assert result.code == 3
    assert "503" in one_error_line(result, notes=1)  # after the retry's announcement
    assert result.err.startswith("do-images: GET /v2/images/ubuntu-24-04-x64: 503; retry 1/1 in ")
    assert len(emu.requests) == 2


async def test_create_then_wait_update_delete(emu: Emulator, cli: Cli) -> None:
    created = await cli(
        "-o", "json", "images", "create", "--name", "my-img", "--region", "nyc3",
        "--url", "https://example.com/ok.img", "--tag", "a", "--tag", "b",
    )  # fmt: skip
    assert created.code == 0, created.err
    new = image(json.loads(created.out))
    assert (new.status, new.tags) == ("NEW", ("a", "b"))
    assert new.id is not None
    waited = await cli("-o", "json", "images", "wait", str(new.id), "--poll-interval", "0.05")
    assert waited.code == 0, waited.err
    assert image(json.loads(waited.out)).status == "available"
    updated = await cli("images", "update", str(new.id), "--name", "renamed")
    assert updated.code == 0, updated.err
    assert "renamed" in updated.out
    deleted = await cli("images", "delete", "--force", str(new.id))
    assert (deleted.code, deleted.out.split()) == (
        0,
        ["ID", "RESULT", "ERROR", str(new.id), "deleted", "-"],
    )
    assert emu.image(new.id) is None


async def test_create_wait_prints_available_image(cli: Cli) -> None:
    result = await cli(
        "images", "create", "--name", "w", "--region", "nyc3",
        "--url", "https://example.com/ok.img", "--wait", "--poll-interval", "0.05",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.splitlines()[1].rstrip().endswith("available")


async def test_failed_import_exits_5(cli: Cli) -> None:
    result = await cli(
        "images", "create", "--name", "bad", "--region", "nyc3",
        "--url", "https://example.com/fail.img", "--wait", "--poll-interval", "0.05",
    )  # fmt: skip
    assert result.code == 5
    assert "import failed" in one_error_line(result, notes=1)


async def test_wait_timeout_exits_4() -> None:
    async with Emulator(steps=1000) as emu:
        new = emu.add_image(kind="custom", status="NEW")
        result = await arun(
            "--base-url", str(emu.url), "--token", TOKEN,
            "images", "wait", str(new.id), "--wait-timeout", "0.5", "--poll-interval", "0.1",
        )  # fmt: skip
    assert result.code == 4
    assert "NEW" in one_error_line(result)


async def test_verbose_logs_requests_but_never_the_token(cli: Cli) -> None:
    result = await cli("-v", "images", "get", "999999999")
    assert result.code == 3
    assert "GET /v2/images/999999999" in result.err
    assert "Traceback" in result.err  # -v shows where an error came from
    assert result.err.rstrip().splitlines()[-1].startswith("do-images: error: image 999999999")
    assert TOKEN not in result.err + result.out


async def test_rate_limit(cli: Cli) -> None:
    table, as_json = await asyncio.gather(cli("rate-limit"), cli("rate-limit", "-o", "json"))
    assert table.code == 0, table.err
    assert table.out.split()[:3] == ["LIMIT", "REMAINING", "RESET"]
    data = json.loads(as_json.out)
    assert data["limit"] == 5000
    assert 0 <= data["remaining"] < 5000


async def test_global_timeout_applies_to_each_request_of_a_wait(emu: Emulator, cli: Cli) -> None:
    emu.inject(Fault(kind="latency", delay=0.6, times=None))
    result = await cli(
        "--timeout", "0.2", "--max-retries", "0", "images", "wait", "160000033",
        "--poll-interval", "0.05",
    )  # fmt: skip
    assert result.code == 3
    one_error_line(result)
