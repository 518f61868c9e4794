"""The argparse tree of ``do-images``: options, resource groups, their subcommands.

Every global option is accepted before or after the subcommand (the later one wins).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from do_images import __version__
from do_images._windows import RateWindow

from . import _commands as cmd
from . import _layouts as layouts
from . import _local as local
from ._output import FORMATS

Handler = Callable[[cmd.Context], Awaitable[None]]
Local = Callable[[local.Run], None]  # a command that sends no request
Group: TypeAlias = "argparse._SubParsersAction[Parser]"  # pyright: ignore[reportPrivateUsage]
EPILOG = """\
the token: -t/--access-token, else --context NAME (a context of doctl's config file), else
$DIGITALOCEAN_TOKEN or $DIGITALOCEAN_ACCESS_TOKEN, else $DIGITALOCEAN_CONTEXT, else the config's
current context (see: do-images auth list).

exit codes: 0 success, 2 usage error or deletion not confirmed, 3 API or connection error,
4 wait timed out, 5 action or image import failed, 130 interrupted (Ctrl-C),
141 output closed early (e.g. | head), 143 terminated (SIGTERM).

first command (no token needed):  do-images --emulator images list --type distribution
"""
LEAF_EPILOG = """\
columns for --format: {columns}

global options (-o, --format, -t, --context, --api-url, --trace, ...) work here too:
see do-images --help
"""


class Columns(tuple[str, ...]):
    """``--format``'s choices as shell completion offers them: the column names. Any value
    passes argparse's check; `Layout.pick` says what is wrong with a bad one."""

    def __contains__(self, value: object) -> bool:
        return True


class Parser(argparse.ArgumentParser):
    """A parser whose help leaves out the global options a subcommand repeats (they still
    parse and complete there; ``do-images --help`` lists them once)."""

    repeated: tuple[object, ...] = ()

    def _without_repeated(self, render: Callable[[], str]) -> str:
        groups, actions = self._action_groups, self._actions
        hidden = {id(a) for g in self.repeated for a in getattr(g, "_group_actions", ())}
        self._action_groups = [g for g in groups if g not in self.repeated]
        self._actions = [a for a in actions if id(a) not in hidden]
        try:
            return render()
        finally:
            self._action_groups, self._actions = groups, actions

    def format_help(self) -> str:
        return self._without_repeated(super().format_help)

    def format_usage(self) -> str:
        return self._without_repeated(super().format_usage)


def positive(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, not {text!r}")
    return value


def window(text: str) -> RateWindow:
    """An argparse type: ``REQUESTS/SECONDS``, a sliding window (RateWindow's own checks)."""
    try:
        return RateWindow.parse(text)
    except ValueError as error:  # argparse shows only an ArgumentTypeError's own words
        raise argparse.ArgumentTypeError(str(error)) from None


def _global(parser: Parser, *, layout: layouts.Layout | None = None) -> None:
    """The options every command takes. Leaves (those with a `layout`) repeat them with
    SUPPRESS defaults, so a value given after the subcommand overrides one given before it and
    an absent one changes nothing; their help leaves them out."""
    top = layout is None

    def add(group: Any, *flags: str, default: Any = None, **kw: Any) -> None:
        group.add_argument(*flags, default=default if top else argparse.SUPPRESS, **kw)

    out = parser.add_argument_group("output")
    add(
        out,
        "-o",
        "--output",
        choices=FORMATS,
        default="table",
        help="table (default), text (tab-separated), json, or jsonl (one object a line)",
    )
    add(
        out,
        "--format",
        metavar="COL,COL",
        choices=None if layout is None else Columns(c.name for c in layout.columns),
        help="columns to show, in order (any case; e.g. ID,Name,Created); each command's "
        "--help lists its columns",
    )
    add(
        out,
        "--no-header",
        action="store_true",
        default=False,
        help="leave out the header row (table, text)",
    )
    add(
        out,
        "-v",
        "--verbose",
        action="store_true",
        default=False,
        help="log lines of the do_images logger (never the token); tracebacks on errors",
    )
    add(
        out,
        "--trace",
        action="store_true",
        default=False,
        help="one stderr line per HTTP attempt: method, path, status, time, what happens next",
    )
    net = parser.add_argument_group("connection")
    add(
        net,
        "-t",
        "--access-token",
        "--token",
        dest="token",
        metavar="TOKEN",
        help="API token (default: see the token's precedence below)",
    )
    add(net, "--context", metavar="NAME", action="append",
        help="use this auth context's token from doctl's config file (see: auth list); "
        "images list and prune take several")  # fmt: skip
    add(net, "-c", "--config", metavar="PATH",
        help="doctl's config file, read only (default: $XDG_CONFIG_HOME/doctl/config.yaml, "
        "~/.config/doctl/config.yaml; macOS: ~/Library/Application Support/doctl/...)")  # fmt: skip
    add(net, "-u", "--api-url", "--base-url", dest="base_url", metavar="URL",
        help="API root (default https://api.digitalocean.com)")  # fmt: skip
    add(
        net,
        "--allow-insecure-http",
        action="store_true",
        default=False,
        help="allow a plain http:// base URL that is not loopback (sends the token in clear)",
    )
    add(
        net,
        "--emulator",
        action="store_true",
        default=False,
        help="run against a seeded in-process emulator (no token needed)",
    )
    add(
        net,
        "--timeout",
        type=positive,
        default=30.0,
        metavar="S",
        help="seconds per HTTP request attempt (default 30)",
    )
    add(
        net,
        "--max-retries",
        type=int,
        default=5,
        metavar="N",
        help="retries after a failed attempt (default 5; 0: one attempt)",
    )
    add(
        net,
        "--concurrency",
        type=int,
        metavar="N",
        help="requests in flight: pages of a listing (default: the SDK's), deletes (default 16)",
    )
    add(
        net,
        "--rate-limit",
        type=window,
        action="append",
        metavar="REQUESTS/SECONDS",
        help="client-side window: at most REQUESTS per SECONDS (repeatable; "
        "default 250/60 and 5000/3600, DigitalOcean's limits)",
    )
    add(net, "--no-rate-limit", action="store_true", default=False,
        help="no client-side windows (answers of 429 are still waited out)")  # fmt: skip


def _group(sub: Group, name: str, help: str, description: str) -> Group:
    parser = sub.add_parser(name, help=help, description=description)
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def _leaf(group: Group, name: str, handler: Handler | Local, help: str,
          layout: layouts.Layout) -> Parser:  # fmt: skip
    columns = ", ".join(c.name for c in layout.columns)
    parser = group.add_parser(name, help=help, description=help,
                              epilog=LEAF_EPILOG.format(columns=columns),
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    assert isinstance(parser, Parser)
    before = list(parser._action_groups)
    _global(parser, layout=layout)
    parser.repeated = tuple(g for g in parser._action_groups if g not in before)
    parser.set_defaults(handler=handler, layout=layout)
    return parser


def _wait_bounds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait-timeout",
        type=positive,
        metavar="S",
        help="give up (exit 4) after S seconds (default: no limit)",
    )
    parser.add_argument("--poll-interval", type=positive, metavar="S",
                        help="seconds between the first polls (they back off)")  # fmt: skip


def _wait_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--wait", action="store_true", default=False,
        help=f"wait until {what}, then print it (the id is printed on stderr first)",
    )  # fmt: skip
    _wait_bounds(parser)


def _ids(parser: argparse.ArgumentParser, *names: str) -> None:
    for name in names:
        parser.add_argument(name.lower(), type=int, metavar=name)


def _all_contexts(parser: Parser) -> None:
    parser.add_argument("--all-contexts", action="store_true",
                        help="every context of doctl's config that has a token, at once (as "
                        "several --context do); adds a CONTEXT column")  # fmt: skip


def _images(sub: Group) -> None:
    group = _group(sub, "images", "list, get, import, update, delete, prune images",
                   "Distributions, applications, snapshots, backups, custom images.")  # fmt: skip
    p = _leaf(group, "list", cmd.images_list, "list images", layouts.IMAGE)
    _all_contexts(p)
    p.add_argument("--type", choices=("distribution", "application"), help="public images only")
    p.add_argument("--private", action="store_true", help="only your own images")
    p.add_argument("--tag", metavar="NAME", help="only images with this tag")
    p.add_argument("--per-page", type=int, default=200, metavar="N", help="page size (1..200)")
    p = _leaf(group, "get", cmd.images_get, "show one image by id or public slug", layouts.IMAGE)
    p.add_argument("image", metavar="ID_OR_SLUG")
    p = _leaf(group, "create", cmd.images_create, "import a custom image from a URL", layouts.IMAGE)
    p.add_argument("--name", required=True)
    p.add_argument("--url", required=True, help="http(s) URL of the image file")
    p.add_argument("--region", required=True, help="region slug, e.g. nyc3")
    p.add_argument("--distribution", help="e.g. Ubuntu")
    p.add_argument("--description")
    p.add_argument("--tag", action="append", metavar="NAME", help="a tag (repeatable)")
    _wait_flag(p, "the import is available")
    p = _leaf(group, "update", cmd.images_update,
              "change name, distribution or description", layouts.IMAGE)  # fmt: skip
    _ids(p, "IMAGE_ID")
    p.add_argument("--name")
    p.add_argument("--distribution")
    p.add_argument("--description")
    p = _leaf(group, "delete", cmd.images_delete,
              "delete snapshots or custom images (asks first on a terminal)",
              layouts.DELETION)  # fmt: skip
    p.add_argument("image_ids", type=int, nargs="+", metavar="IMAGE_ID")
    p.add_argument("-f", "--force", action="store_true", help="delete without asking")
    p = _leaf(group, "prune", cmd.images_prune,
              "keep the N newest of your matching snapshots and custom images, delete the "
              "rest (a dry run without --force)", layouts.PRUNE)  # fmt: skip
    _all_contexts(p)
    p.add_argument("--keep", type=int, required=True, metavar="N",
                   help="how many of the newest matching images to keep")  # fmt: skip
    p.add_argument("--name-prefix", metavar="P", help="only images whose name starts with P")
    p.add_argument("--tag", metavar="NAME", help="only images with this tag")
    p.add_argument("--older-than", metavar="AGE",
                   help="only images created more than AGE ago: 90m, 12h, 30d, 2w")  # fmt: skip
    p.add_argument("-f", "--force", action="store_true", help="delete (default: dry run)")
    p = _leaf(group, "wait", cmd.images_wait,
              "wait until an imported image is available", layouts.IMAGE)  # fmt: skip
    _ids(p, "IMAGE_ID")
    _wait_bounds(p)


def _actions(sub: Group) -> None:
    group = _group(sub, "actions", "transfer or convert images; list and follow actions",
                   "Transfer an image to a region, convert a backup to a snapshot.")  # fmt: skip
    p = _leaf(group, "list", cmd.actions_list, "list an image's actions", layouts.ACTION)
    _ids(p, "IMAGE_ID")
    p.add_argument("--per-page", type=int, default=200, metavar="N", help="page size (1..200)")
    p = _leaf(group, "get", cmd.actions_get, "show one action", layouts.ACTION)
    _ids(p, "IMAGE_ID", "ACTION_ID")
    p = _leaf(group, "transfer", cmd.actions_transfer,
              "copy an image to another region", layouts.ACTION)  # fmt: skip
    _ids(p, "IMAGE_ID")
    p.add_argument("--region", required=True, help="target region slug, e.g. ams3")
    _wait_flag(p, "the action completes")
    p = _leaf(group, "convert", cmd.actions_convert,
              "convert a backup into a snapshot", layouts.ACTION)  # fmt: skip
    _ids(p, "IMAGE_ID")
    _wait_flag(p, "the action completes")
    p = _leaf(group, "wait", cmd.actions_wait, "wait until an action completes", layouts.ACTION)
    _ids(p, "IMAGE_ID", "ACTION_ID")
    _wait_bounds(p)


def _transfers(sub: Group) -> None:
    group = _group(sub, "transfers", "move snapshots to another account or team",
                   "Account transfers of snapshots.")  # fmt: skip
    p = _leaf(group, "create", cmd.transfers_create,
              "offer a snapshot to one recipient", layouts.TRANSFER)  # fmt: skip
    _ids(p, "IMAGE_ID")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="recipient's email")
    who.add_argument("--team-uuid", help="recipient team's uuid (accepted at once)")
    for name, handler, text in (
        ("accept", cmd.transfers_accept, "accept a transfer offered to you"),
        ("cancel", cmd.transfers_cancel, "withdraw a transfer you offered"),
        ("decline", cmd.transfers_decline, "refuse a transfer offered to you"),
    ):
        p = _leaf(group, name, handler, text, layouts.TRANSFER)
        _ids(p, "IMAGE_ID")
        p.add_argument("--transfer-id", type=int, required=True, metavar="N")
        if name == "accept":
            p.add_argument("--team-uuid", required=True, help="your team, to receive the snapshot")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; each leaf sets ``handler`` (a coroutine of `_commands`) and
    ``layout`` (its result's columns)."""
    parser = Parser(
        prog="do-images",
        description="DigitalOcean Images from the command line (built on the do_images SDK).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _images(sub)
    _actions(sub)
    _transfers(sub)
    _leaf(sub, "rate-limit", cmd.rate_limit, "show the token's API quota (one cheap request)",
          layouts.RATE_LIMIT)  # fmt: skip
    group = _group(
        sub,
        "auth",
        "the auth contexts of doctl's config file (read only)",
        "doctl's contexts, as --context and $DIGITALOCEAN_CONTEXT name them.",
    )
    _leaf(group, "list", local.auth_list,
          "list the contexts (the current one marked); never a token", layouts.AUTH)  # fmt: skip
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh, fish)",
                       description="Print a completion script for SHELL; see docs/cli.md for "
                       "where to put it.")  # fmt: skip
    p.add_argument("shell", choices=("bash", "zsh", "fish"), metavar="SHELL",
                   help="bash, zsh or fish")  # fmt: skip
    # Everything after `emulator` goes to do_images.testing.serve (add_help=False passes -h on).
    sub.add_parser("emulator", add_help=False, help="serve the emulator in the foreground "
                   "(its options: emulator --help)")  # fmt: skip
    return parser
