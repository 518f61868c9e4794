"""``python -m do_images.testing``: serve the emulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from do_images._windows import DIGITALOCEAN_LIMITS, RateWindow

from ._server import STANDALONE_REQUEST_LOG, Emulator


def _window(text: str) -> RateWindow:
    try:
        return RateWindow.parse(text)
    except ValueError as error:  # argparse shows only an ArgumentTypeError's own words
        raise argparse.ArgumentTypeError(str(error)) from None


def _account(text: str) -> tuple[str, str]:
    token, sep, name = text.partition("=")
    if not sep or not token.strip() or not name.strip() or "@" in name:
        raise argparse.ArgumentTypeError(f"expected TOKEN=NAME such as a-token=alice, not {text!r}")
    return token.strip(), name.strip()


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve an in-memory DigitalOcean Images API. Without --account any bearer "
        "token is the account 'default'. Account NAME has the email NAME@example.com (a "
        "transfer to any NAME@example.com goes to account NAME) and a fixed team uuid; both "
        "are printed at start.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to bind, 0 for any (default 8080)")
    p.add_argument(
        "--account",
        type=_account,
        action="append",
        metavar="TOKEN=NAME",
        help="bearer TOKEN is account NAME (repeatable; other tokens get 401)",
    )
    p.add_argument(
        "--no-seed",
        action="store_true",
        help="start without the seed catalogue (public images, and the first "
        "account's snapshots, backup and custom image)",
    )
    p.add_argument("--images", type=int, default=0, metavar="N",
                   help="add N generated public distribution images")  # fmt: skip
    p.add_argument("--latency-ms", type=float, default=0.0, metavar="MS",
                   help="delay every answer by MS milliseconds")  # fmt: skip
    p.add_argument("--steps", type=int, default=1,
                   help="GETs an import or action takes to finish (default 1)")  # fmt: skip
    p.add_argument("--no-rate-limit", action="store_true", help="disable rate limiting")
    p.add_argument("--rate-limit", type=_window, action="append", metavar="REQUESTS/SECONDS",
                   help="a sliding window (repeatable); default 250/60 and 5000/3600")  # fmt: skip
    p.add_argument("--request-log", type=int, default=STANDALONE_REQUEST_LOG, metavar="N",
                   help="keep the newest N requests in the log, drop older ones "
                   f"(default {STANDALONE_REQUEST_LOG})")  # fmt: skip
    return p


async def _run(args: argparse.Namespace) -> None:
    limits: Sequence[RateWindow] = (
        () if args.no_rate_limit else (args.rate_limit or DIGITALOCEAN_LIMITS)
    )
    tokens = dict(args.account) if args.account else None
    emulator = Emulator(
        tokens=tokens,
        seed_account=args.account[0][1] if args.account else None,
        host=args.host,
        port=args.port,
        seed=not args.no_seed,
        rate_limits=limits,
        latency=args.latency_ms / 1000.0,
        steps=args.steps,
        request_log_size=args.request_log,
    )
    if args.images > 0:
        emulator.add_images(args.images)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises KeyboardInterrupt
            pass
    async with emulator:
        print(f"serving DigitalOcean Images API emulator on {emulator.url}")
        names = dict.fromkeys(tokens.values()) if tokens else {"default": None}
        for name in names:
            who = "any token" if tokens is None else "token given to --account"
            print(
                f"account {name} ({who}): email {emulator.account_email(name)}, "
                f"team uuid {emulator.account_uuid(name)}"
            )
        sys.stdout.flush()
        await stop.wait()


def serve(argv: list[str] | None = None, prog: str = "python -m do_images.testing") -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and serve until SIGINT/SIGTERM; the exit code.

    `prog` is the program name help and errors show (``do-images emulator`` from the CLI).
    """
    args = _parser(prog).parse_args(argv)
    if args.images < 0 or args.latency_ms < 0 or args.steps < 0:
        print("--images, --latency-ms and --steps must not be negative", file=sys.stderr)
        return 2
    if args.request_log < 1:
        print("--request-log must be 1 or more", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run(args))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
