"""The ``do-images`` command: parse arguments, run one SDK call, map errors to exit codes.

Built only on the public SDK (``do_images``, ``do_images.testing``); stdlib argparse, no extras.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import traceback
from contextlib import AsyncExitStack
from typing import Any

from do_images import (
    ActionFailedError,
    APIConnectionError,
    APIError,
    Client,
    DigitalOceanError,
    ImageFailedError,
    WaitTimeoutError,
)

from ._cli._commands import Context
from ._cli._output import Output
from ._cli._parser import build_parser
from ._cli._progress import Progress

__all__ = ["EXIT_CODES", "main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_API = 3
EXIT_TIMEOUT = 4
EXIT_FAILED = 5
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 1
#: Error class -> exit code; the first match (in this order) wins.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (WaitTimeoutError, EXIT_TIMEOUT),
    (ActionFailedError, EXIT_FAILED),
    (ImageFailedError, EXIT_FAILED),
    (APIError, EXIT_API),
    (APIConnectionError, EXIT_API),
    (DigitalOceanError, EXIT_API),  # e.g. ResponseDecodeError: the API answered nonsense
    (ValueError, EXIT_USAGE),  # the SDK refuses bad arguments before sending anything
    (TypeError, EXIT_USAGE),
)
TOKEN_VARIABLES = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")
EMULATOR_TOKEN = "emulator-token"
log = logging.getLogger("do_images.cli")


def _enable_debug_logs() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    sdk = logging.getLogger("do_images")
    sdk.setLevel(logging.DEBUG)
    sdk.addHandler(handler)


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": args.http_timeout, "max_retries": args.max_retries}
    if args.concurrency is not None:
        options["concurrency"] = args.concurrency
    if args.base_url is not None:
        options["base_url"] = args.base_url
    return options


async def _run(args: argparse.Namespace) -> None:
    progress = Progress(sys.stderr)
    out = Output(args.output, sys.stdout, progress)
    options = _client_options(args)
    token: str | None = args.token
    async with AsyncExitStack() as stack:
        if args.emulator:
            from do_images.testing import Emulator

            if args.base_url is not None:
                raise ValueError("--emulator and --base-url exclude each other")
            emulator = await stack.enter_async_context(Emulator())
            options["base_url"], token = emulator.url, token or EMULATOR_TOKEN
        elif token is None and not any(os.environ.get(name) for name in TOKEN_VARIABLES):
            raise ValueError(
                "no API token: pass --token, set DIGITALOCEAN_TOKEN, or try --emulator"
            )
        client = await stack.enter_async_context(Client(token, **options))
        log.debug("do-images %s %s against %s", args.command, args.action or "", client.base_url)
        await args.handler(Context(client, args, out, progress))


def _fail(message: str) -> None:
    text = " ".join(message.split())  # one line, whatever the message holds
    print(f"do-images: error: {text}", file=sys.stderr, flush=True)


def _exit_code(error: BaseException) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), EXIT_INTERNAL)


def main(argv: list[str] | None = None) -> int:
    """Run ``do-images`` with `argv` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "emulator":
        from do_images.testing import serve  # only when asked: it costs import time

        return serve(extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.action = getattr(args, "action", None)
    if args.verbose:
        _enable_debug_logs()
    try:
        asyncio.run(_run(args))
    except KeyboardInterrupt:
        _fail("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit flush quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:
        code = _exit_code(error)
        if args.verbose:
            traceback.print_exc()
        message = str(error) or type(error).__name__
        _fail(message if code != EXIT_INTERNAL else f"{type(error).__name__}: {message}")
        return code
    return EXIT_OK
