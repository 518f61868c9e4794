"""Running one command: check the arguments, confirm, open the client, map errors to exits."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import signal
import sys
import traceback
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from yarl import URL

from do_images import Client

from . import _config as config
from . import _layouts as layouts
from . import _logs
from ._commands import Context, images_delete, images_list, images_prune
from ._failures import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Failure,
    Setting,
    describe,
)
from ._local import Run, completion, config_path
from ._output import Output
from ._parser import build_parser
from ._progress import Progress
from ._prune import Prune, age
from ._text import safe
from ._trace import Tracer

EMULATOR_TOKEN = "emulator-token"
YES = ("y", "yes")
HOUR_AND_MARGIN = 4000.0  # DigitalOcean's longest window is an hour


def token(args: argparse.Namespace) -> tuple[str, str]:
    """The token to use and where it came from (named in a 401's message; never the token).

    ``--emulator`` takes its own token unless one is given (no config file is read)."""
    context = args.context[-1] if args.context else None
    if args.emulator and args.token is None and context is None:
        return EMULATOR_TOKEN, "--emulator (its built-in token)"
    choice = config.choose(args.token, context, os.environ, config_path(args))
    if choice is None:
        raise ValueError("no API token: pass -t/--access-token, set DIGITALOCEAN_TOKEN, name a "
                         "doctl context with --context, or try --emulator")  # fmt: skip
    return choice.token, choice.source


def accounts(args: argparse.Namespace) -> dict[str, str]:
    """The accounts a command walks at once (name -> token): ``--all-contexts`` or several
    ``--context``; empty for a command on one account."""
    every: bool = getattr(args, "all_contexts", False)
    named: list[str] = args.context or []
    if not every and len(named) < 2:
        return {}
    if args.handler not in (images_list, images_prune):
        raise ValueError("several --context: only images list and images prune walk many accounts")
    if args.token is not None or args.emulator:
        raise ValueError("--all-contexts and several --context take their tokens from doctl's "
                         "config: leave out -t/--access-token and --emulator")  # fmt: skip
    if every and named:
        raise ValueError("--all-contexts and --context exclude each other")
    found = config.read(config_path(args))
    names = [n for n in found.names() if found.token(n)] if every else list(dict.fromkeys(named))
    if not names:
        raise ValueError(f"--all-contexts: no context with a token in {found.path}")
    return {name: found.require(name, "--context") for name in names}


def base_url(text: str) -> URL:
    """``--base-url``, where the API's own ``/v2`` (often copied from docs) is dropped: the SDK
    adds it to every path."""
    url = URL(text)
    path = url.path.rstrip("/")
    return url.with_path(path[: -len("/v2")] or "/") if path.endswith("/v2") else url


def _check(args: argparse.Namespace) -> None:
    """Refuse, before any request, what argparse alone cannot see."""
    waits = getattr(args, "wait", True)
    for flag in ("wait_timeout", "poll_interval"):
        if not waits and getattr(args, flag, None) is not None:
            raise ValueError(f"--{flag.replace('_', '-')} bounds a wait: add --wait")
    if args.rate_limit and args.no_rate_limit:
        raise ValueError("--rate-limit and --no-rate-limit exclude each other")
    if args.emulator and args.base_url is not None:
        raise ValueError("--emulator and --base-url exclude each other")
    if args.no_header and args.output in ("json", "jsonl"):
        raise ValueError(f"--no-header applies to table and text output, not {args.output}")
    args.accounts = accounts(args)
    if args.accounts:
        args.layout = layouts.in_context(args.layout)
    args.columns = args.layout.pick(args.format)
    for image_id in getattr(args, "image_ids", ()):
        if image_id < 1:  # refused before the confirmation question, not after it
            raise ValueError(f"IMAGE_ID must be a positive integer, not {image_id}")
    if args.handler is images_prune:
        older = None if args.older_than is None else age(args.older_than)
        args.prune = Prune(args.keep, name_prefix=args.name_prefix, tag=args.tag, older_than=older)


def confirm(args: argparse.Namespace) -> None:
    """``images delete`` asks on a terminal; without one (and without --force) nothing goes."""
    if args.handler is not images_delete or args.force:
        return
    ids = list(dict.fromkeys(args.image_ids))
    what = f"image {ids[0]}" if len(ids) == 1 else f"{len(ids)} images ({', '.join(map(str, ids))})"
    if not sys.stdin.isatty():
        raise Failure(f"not deleting {what}: stdin is not a terminal to confirm on; "
                      "pass --force to delete without asking", EXIT_USAGE)  # fmt: skip
    sys.stderr.write(f"Warning: Are you sure you want to delete {what}? (y/N) ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in YES:
        raise Failure(f"not deleting {what}: not confirmed", EXIT_USAGE)


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "timeout": args.timeout,
        "max_retries": args.max_retries,
        "allow_insecure_http": args.allow_insecure_http,
    }
    if args.concurrency is not None:
        options["concurrency"] = args.concurrency
    if args.no_rate_limit:
        options["rate_limits"] = ()
    elif args.rate_limit:
        options["rate_limits"] = tuple((w.max_requests, w.seconds) for w in args.rate_limit)
    # A command waits out any window (showing it) rather than fail a long listing half-way:
    # the SDK's default cap of 60 s suits servers, not a person who asked for every image.
    windows = [w.seconds for w in args.rate_limit or ()]
    options["max_rate_limit_wait"] = max([HOUR_AND_MARGIN, *(w * 1.1 for w in windows)])
    return options


class Terminated(Exception):
    """The command was asked to stop by SIGTERM (``timeout``, ``docker stop``, Kubernetes)."""


def _on_sigterm(stopped: list[bool]) -> None:
    """Make SIGTERM stop the command as Ctrl-C does: the running task is cancelled, so a
    listing ends its output with the ``!incomplete`` marker and the exit code says why."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        stopped.append(True)
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (NotImplementedError, RuntimeError):  # Windows: SIGTERM ends the process at once
        pass


async def _run(
    args: argparse.Namespace, secret: str, setting: dict[str, Any], ctx_box: list[Context]
) -> None:
    stopped: list[bool] = []
    _on_sigterm(stopped)
    try:
        await _command(args, secret, setting, ctx_box)
    except asyncio.CancelledError:
        if stopped:
            raise Terminated from None
        raise


async def _command(
    args: argparse.Namespace, secret: str, setting: dict[str, Any], ctx_box: list[Context]
) -> None:
    progress = Progress(sys.stderr)
    tracer = Tracer(sys.stderr, progress, trace=args.trace)
    out = Output(args.output, sys.stdout, progress, args.columns, header=not args.no_header)
    options = _client_options(args)
    async with AsyncExitStack() as stack:
        stack.enter_context(_logs.installed(sys.stderr, progress, tracer, verbose=args.verbose))
        if args.emulator:
            from do_images.testing import Emulator  # only when asked: it costs import time

            emulator = await stack.enter_async_context(Emulator())
            options["base_url"] = emulator.url
        elif args.base_url is not None:
            options["base_url"] = base_url(args.base_url)
        # The command's own session, so that --trace and retry announcements see every attempt.
        # The emulator is in this process: a proxy from the environment is never wanted for it.
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=not args.emulator,
            trace_configs=[tracer.config()],
        )
        await stack.enter_async_context(session)
        client = await stack.enter_async_context(Client(secret, session=session, **options))
        setting["base_url"] = client.base_url
        ctx = Context(client, args, out, progress, accounts=args.accounts, session=session,
                      options=options)  # fmt: skip
        ctx_box.append(ctx)
        await args.handler(ctx)


def main(argv: list[str] | None = None) -> int:
    """Run ``do-images`` with `argv` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "emulator":
        from do_images.testing import serve  # only when asked: it costs import time

        return serve(extra, prog="do-images emulator")
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "completion":
        return _local(lambda: sys.stdout.write(completion(parser, args.shell)))
    setting: dict[str, Any] = {"timeout": args.timeout}
    contexts: list[Context] = []
    try:
        _check(args)
        if not inspect.iscoroutinefunction(args.handler):  # sends no request, needs no token
            progress = Progress(sys.stderr)
            out = Output(args.output, sys.stdout, progress, args.columns, header=not args.no_header)
            args.handler(Run(args, out))
            return EXIT_OK
        if args.accounts:
            secret, setting["token_source"] = next(iter(args.accounts.values())), "--context"
        else:
            secret, setting["token_source"] = token(args)
        confirm(args)
        asyncio.run(_run(args, secret, setting, contexts))
    except (KeyboardInterrupt, Terminated) as stop:
        resume = contexts[0].resume if contexts else []
        said = "terminated" if isinstance(stop, Terminated) else "interrupted"
        _fail(said + "".join(f"; resume with: {c}" for c in resume))
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit flush quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:
        code, message = describe(error, Setting(**setting))
        if args.verbose:
            for line in traceback.format_exception(error):
                sys.stderr.write("".join(safe(part) + "\n" for part in line.splitlines()))
        _fail(message)
        return code
    return EXIT_OK


def _local(command: Callable[[], object]) -> int:
    try:
        command()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ValueError as error:
        _fail(safe(str(error)))
        return EXIT_USAGE
    return EXIT_OK


def _fail(message: str) -> None:
    print(f"do-images: error: {message}", file=sys.stderr, flush=True)
