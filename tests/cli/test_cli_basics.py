"""The command itself: the README's first command, the entry point, help and usage errors."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from do_images import __version__
from do_images.cli import main

from .helpers import arun, one_error_line, run

README_COMMAND = ("--emulator", "images", "list", "--type", "distribution")
IMAGE_HEADER = ["ID", "SLUG", "NAME", "TYPE", "DISTRIBUTION", "REGIONS", "CREATED", "STATUS"]


def test_readme_first_command_prints_distribution_table() -> None:
    result = run(*README_COMMAND)
    assert result.code == 0, result.err
    assert result.err == ""
    header, *rows = result.out.splitlines()
    assert header.split() == IMAGE_HEADER
    assert len(rows) >= 10
    assert any(" ubuntu-24-04-x64 " in row for row in rows)
    assert any(" debian-12-x64 " in row for row in rows)
    assert not any("docker-20-04" in row for row in rows)  # applications are not listed
    assert all(row.rstrip().endswith("available") for row in rows)


def test_installed_console_script() -> None:
    name = "do-images.exe" if sys.platform == "win32" else "do-images"
    script = Path(sys.executable).with_name(name)
    assert script.exists(), f"console script not installed next to {sys.executable}"
    result = run(*README_COMMAND, program=(str(script),))
    assert result.code == 0, result.err
    assert "ubuntu-24-04-x64" in result.out


async def test_usage_errors_in_a_real_process() -> None:
    sdk, parse = await asyncio.gather(
        arun("--emulator", "images", "list", "--per-page", "0"),
        arun("images", "list", "--type", "snapshot"),
    )
    assert sdk.code == 2
    assert "--per-page must be" in one_error_line(sdk)
    assert parse.code == 2
    assert parse.err.startswith("usage: do-images images list")
    assert "Traceback" not in parse.err


# The rest runs main() in-process: the same code path, without paying a process start each.


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("images", "actions", "transfers", "rate-limit", "emulator", "exit codes"):
        assert command in out
    for code in ("130 interrupted", "141 output closed early", "143 terminated"):
        assert code in " ".join(out.split())
    for option in ("--output", "--access-token", "--context", "--api-url", "--trace"):
        assert out.count(f"{option} ") + out.count(f"{option},") >= 1


def test_global_options_are_listed_once_not_in_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main_help = ""
    with pytest.raises(SystemExit):
        main(["--help"])
    main_help = capsys.readouterr().out
    assert main_help.count("--max-retries N") == 2  # the usage line, and the option
    with pytest.raises(SystemExit):
        main(["images", "list", "--help"])
    leaf = capsys.readouterr().out
    assert "--max-retries" not in leaf
    assert "see do-images --help" in leaf
    columns = " ".join(leaf.split()).split("columns for --format: ")[1]
    assert columns.startswith("ID, SLUG, NAME, TYPE, DISTRIBUTION, REGIONS, CREATED, STATUS,")
    # ...and they still parse after the command:
    with pytest.raises(SystemExit) as exited:
        main(["images", "list", "--max-retries", "x"])
    assert exited.value.code == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"do-images {__version__}"


def test_subcommand_help_shows_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["images", "create", "--help"])
    out = capsys.readouterr().out
    for option in ("--name", "--url", "--region", "--wait", "--wait-timeout", "-o, --format"):
        assert option in out


USAGE_ERRORS: list[tuple[str, ...]] = [
    (),  # no command
    ("bogus",),
    ("images",),  # no action
    ("--emulator", "images", "get"),  # missing positional
    ("--emulator", "images", "list", "--type", "snapshot"),  # not a choice
    ("--emulator", "images", "delete", "abc"),  # not an int
    ("--emulator", "images", "list", "--nope"),
    ("--emulator", "transfers", "create", "5"),  # no recipient
    ("--emulator", "transfers", "create", "5", "--email", "a@b.c", "--team-uuid", "u"),
    ("--emulator", "images", "wait", "7", "--poll-interval", "0"),  # not a positive number
    ("--emulator", "images", "list", "--timeout", "-1"),
    ("--emulator", "images", "list", "--rate-limit", "5"),  # not N/SECONDS
    ("--emulator", "images", "list", "-o", "yaml"),
]
# Refused before anything is sent: (arguments, what the one error line names).
EARLY_ERRORS: list[tuple[tuple[str, ...], str]] = [
    (("--emulator", "images", "list", "--per-page", "0"), "--per-page must be"),
    (("--emulator", "images", "delete", "-3"), "IMAGE_ID must be"),
    (("--emulator", "images", "get", "0"), "ID_OR_SLUG must be"),
    (("--emulator", "actions", "list", "0"), "IMAGE_ID must be"),
    (("--emulator", "images", "update", "7", "--name", ""), "--name must not be empty"),
    (("--emulator", "images", "update", "7"), "at least one"),
    (
        ("--emulator", "images", "create", "--name", "x", "--url", "ftp://h/x", "--region", "x"),
        "url",
    ),
    (
        (
            "--emulator",
            "images",
            "create",
            "--name",
            "x",
            "--url",
            "https://e/x",
            "--region",
            "nyc3",
            "--wait-timeout",
            "5",
        ),
        "--wait-timeout bounds a wait: add --wait",
    ),
    (("--emulator", "actions", "convert", "5", "--poll-interval", "1"), "--poll-interval"),
    (("--emulator", "--rate-limit", "5/1", "--no-rate-limit", "images", "list"), "exclude"),
    (("--emulator", "images", "list", "--format", "ID,Nope"), "--format: no column 'Nope'"),
    (("--emulator", "images", "list", "-o", "json", "--no-header"), "--no-header"),
    (("--emulator", "images", "prune", "--keep", "2"), "needs a filter"),
    (("--emulator", "images", "prune", "--keep", "-1", "--tag", "t"), "--keep"),
    (("--emulator", "images", "prune", "--keep", "1", "--older-than", "3 weeks"), "--older-than"),
    (("--emulator", "images", "delete", "5", "6"), "pass --force"),  # no terminal to ask on
    (("--base-url", "http://192.0.2.1", "--token", "t", "images", "list"), "--allow-insecure-http"),
    (("--emulator", "--concurrency", "0", "images", "list"), "concurrency"),
    (("images", "list"), "DIGITALOCEAN_TOKEN"),  # no token anywhere
    (("--emulator", "--base-url", "http://127.0.0.1:1", "images", "list"), "--base-url"),
    (("--token", " ", "images", "list"), "token"),
]


@pytest.mark.parametrize("args", USAGE_ERRORS)
def test_argparse_usage_errors_exit_2(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: do-images")
    assert "error:" in err


@pytest.mark.parametrize(("args", "needle"), EARLY_ERRORS)
def test_bad_arguments_exit_2_with_one_line(
    args: tuple[str, ...],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(list(args)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("do-images: error: ")
    assert needle in err


def test_connection_error_exits_3() -> None:
    args = ("--base-url", "http://127.0.0.1:9", "--token", "t", "--max-retries", "0")
    result = run(*args, "--timeout", "2", "images", "get", "1")
    assert result.code == 3
    one_error_line(result)
