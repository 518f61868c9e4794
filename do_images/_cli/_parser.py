"""The argparse tree of ``do-images``: global options, resource groups, their subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from do_images import __version__

from . import _commands as cmd

Handler = Callable[[cmd.Context], Awaitable[None]]
Group: TypeAlias = (
    "argparse._SubParsersAction[argparse.ArgumentParser]"  # not subscriptable at runtime
)
OUTPUTS = ("table", "json", "jsonl")
EPILOG = """\
exit codes: 0 success, 2 usage error, 3 API or connection error, 4 wait timed out,
5 action or image import failed, 130 interrupted.

first command (no token needed):  do-images --emulator images list --type distribution
"""


def _shared(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted both before and after the subcommand (after wins)."""
    parser.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        default="table" if top else argparse.SUPPRESS,
        help="output format (default table); jsonl: one object a line",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="DEBUG logs of the do_images logger; tracebacks on errors",
    )


def _global(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("connection (before the subcommand)")
    g.add_argument(
        "--token", help="API token (default: $DIGITALOCEAN_TOKEN, then $DIGITALOCEAN_ACCESS_TOKEN)"
    )
    g.add_argument("--base-url", metavar="URL", help="API root (default the real API)")
    g.add_argument(
        "--emulator",
        action="store_true",
        help="run against a seeded in-process emulator (no token needed)",
    )
    # dest differs from the waits' --timeout, which shares the namespace.
    g.add_argument("--timeout", dest="http_timeout", type=float, default=30.0, metavar="S",
                   help="seconds per HTTP attempt (default 30)")  # fmt: skip
    g.add_argument("--max-retries", type=int, default=5, metavar="N",
                   help="retries after a failed attempt (default 5; 0: one attempt)")  # fmt: skip
    g.add_argument("--concurrency", type=int, default=None, metavar="N",
                   help="page requests a listing keeps in flight (default 16)")  # fmt: skip


def _group(sub: Group, name: str, help: str, description: str) -> Group:
    parser = sub.add_parser(name, help=help, description=description)
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def _leaf(group: Group, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help, description=help)
    _shared(parser, top=False)
    parser.set_defaults(handler=handler)
    return parser


def _waiting(parser: argparse.ArgumentParser, timeout_flag: str) -> None:
    # --timeout of a wait and --wait-timeout share one dest (the global one is http_timeout).
    parser.add_argument(timeout_flag, dest="wait_timeout", type=float, default=None, metavar="S",
                        help="give up (exit 4) after S seconds (default: no limit)")  # fmt: skip
    parser.add_argument("--poll-interval", type=float, default=None, metavar="S",
                        help="seconds between the first polls (they back off)")  # fmt: skip


def _wait_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--wait", action="store_true", help=f"wait until {what}, then print it")
    _waiting(parser, "--wait-timeout")


def _ids(parser: argparse.ArgumentParser, *names: str) -> None:
    for name in names:
        parser.add_argument(name.lower(), type=int, metavar=name)


def _images(sub: Group) -> None:
    group = _group(sub, "images", "list, get, import, update, delete images",
                   "Distributions, applications, snapshots, backups, custom images.")  # fmt: skip
    p = _leaf(group, "list", cmd.images_list, "list images")
    p.add_argument("--type", choices=("distribution", "application"), help="public images only")
    p.add_argument("--private", action="store_true", help="only your own images")
    p.add_argument("--tag", metavar="NAME", help="only images with this tag")
    p.add_argument("--per-page", type=int, default=200, metavar="N", help="page size (1..200)")
    p = _leaf(group, "get", cmd.images_get, "show one image by id or public slug")
    p.add_argument("image", metavar="ID_OR_SLUG")
    p = _leaf(group, "create", cmd.images_create, "import a custom image from a URL")
    p.add_argument("--name", required=True)
    p.add_argument("--url", required=True, help="http(s) URL of the image file")
    p.add_argument("--region", required=True, help="region slug, e.g. nyc3")
    p.add_argument("--distribution", help="e.g. Ubuntu")
    p.add_argument("--description")
    p.add_argument("--tag", action="append", metavar="NAME", help="a tag (repeatable)")
    _wait_flag(p, "the import is available")
    p = _leaf(group, "update", cmd.images_update, "change name, distribution or description")
    _ids(p, "IMAGE_ID")
    p.add_argument("--name")
    p.add_argument("--distribution")
    p.add_argument("--description")
    p = _leaf(group, "delete", cmd.images_delete, "delete a snapshot, backup or custom image")
    _ids(p, "IMAGE_ID")
    p = _leaf(group, "wait", cmd.images_wait, "wait until an imported image is available")
    _ids(p, "IMAGE_ID")
    _waiting(p, "--timeout")


def _actions(sub: Group) -> None:
    group = _group(sub, "actions", "transfer or convert images; list and follow actions",
                   "Transfer an image to a region, convert a backup to a snapshot.")  # fmt: skip
    p = _leaf(group, "list", cmd.actions_list, "list an image's actions")
    _ids(p, "IMAGE_ID")
    p.add_argument("--per-page", type=int, default=200, metavar="N", help="page size (1..200)")
    p = _leaf(group, "get", cmd.actions_get, "show one action")
    _ids(p, "IMAGE_ID", "ACTION_ID")
    p = _leaf(group, "transfer", cmd.actions_transfer, "copy an image to another region")
    _ids(p, "IMAGE_ID")
    p.add_argument("--region", required=True, help="target region slug, e.g. ams3")
    _wait_flag(p, "the action completes")
    p = _leaf(group, "convert", cmd.actions_convert, "convert a backup into a snapshot")
    _ids(p, "IMAGE_ID")
    _wait_flag(p, "the action completes")
    p = _leaf(group, "wait", cmd.actions_wait, "wait until an action completes")
    _ids(p, "IMAGE_ID", "ACTION_ID")
    _waiting(p, "--timeout")


def _transfers(sub: Group) -> None:
    group = _group(sub, "transfers", "move snapshots to another account or team",
                   "Account transfers of snapshots.")  # fmt: skip
    p = _leaf(group, "create", cmd.transfers_create, "offer a snapshot to one recipient")
    _ids(p, "IMAGE_ID")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="recipient's email")
    who.add_argument("--team-uuid", help="recipient team's uuid (accepted at once)")
    for name, handler, text in (
        ("accept", cmd.transfers_accept, "accept a transfer offered to you"),
        ("cancel", cmd.transfers_cancel, "withdraw a transfer you offered"),
        ("decline", cmd.transfers_decline, "refuse a transfer offered to you"),
    ):
        p = _leaf(group, name, handler, text)
        _ids(p, "IMAGE_ID")
        p.add_argument("--transfer-id", type=int, required=True, metavar="N")
        if name == "accept":
            p.add_argument("--team-uuid", required=True, help="team to receive the snapshot")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; each leaf sets ``handler``, a coroutine of `_commands`."""
    parser = argparse.ArgumentParser(
        prog="do-images",
        description="DigitalOcean Images from the command line (built on the do_images SDK).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _shared(parser, top=True)
    _global(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _images(sub)
    _actions(sub)
    _transfers(sub)
    _leaf(sub, "rate-limit", cmd.rate_limit, "show the token's API quota (one cheap request)")
    # Everything after `emulator` goes to do_images.testing.serve (add_help=False passes -h on).
    sub.add_parser("emulator", add_help=False, help="serve the emulator in the foreground "
                   "(its options: emulator --help)")  # fmt: skip
    return parser
