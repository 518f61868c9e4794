"""``uv run --extra bench python -m benchmarks``: start the emulator, run every contender in its
own process several times per scenario, and write medians, ratios and a chart to results/.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import do_images

from . import report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
METRICS = ("wall_s", "cpu_s", "ttfi_s", "peak_rss_mib")
PEERS = {"pydo": "pydo", "python-digitalocean": "digitalocean"}
# The window a listing uses when the caller does not choose (Client's public default).
DEFAULT_CONCURRENCY: int = inspect.signature(do_images.Client).parameters["concurrency"].default


class Emulator:
    """``python -m do_images.testing`` in a child process, on a free loopback port."""

    def __init__(self, images: int, latency_ms: float) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [
            sys.executable,
            "-m",
            "do_images.testing",
            "--port",
            str(port),
            "--no-seed",
            "--images",
            str(images),
            "--latency-ms",
            str(latency_ms),
            "--no-rate-limit",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "serving" not in line:
            self.process.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _child_env() -> dict[str, str]:
    # No proxy may carry a contender's traffic off this machine.
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def run_contender(name: str, url: str, args: list[str]) -> tuple[dict[str, Any], str]:
    """Run one contender in its own process: its JSON result line, and what it said on stderr."""
    command = [sys.executable, "-m", "benchmarks.contenders", name, url, *args]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} {args} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, done.stderr


def scenarios(opts: argparse.Namespace) -> list[dict[str, Any]]:
    """What to run: (label, contender, arguments) per scenario, with its server's shape."""
    peers = [] if opts.no_peers else [p for p, module in PEERS.items() if find_spec(module)]
    accounts = ["--accounts", str(opts.accounts)]
    wide = ["--accounts", str(opts.wide_accounts)]
    walk = [
        ("raw aiohttp, sequential", "raw-sequential", []),
        ("raw aiohttp, concurrent", "raw-concurrent", []),
        ("do_images, concurrency=1", "do_images", ["--concurrency", "1"]),
    ]
    walk += [
        (f"do_images, concurrency={n}", "do_images", ["--concurrency", str(n)])
        # The SDK's default window is always measured: the README's figures are about it.
        for n in sorted({*opts.concurrency, opts.default_concurrency} - {1})
    ]
    walk += [(peer, peer, []) for peer in peers]
    cpu = [
        row
        for row in walk  # the SDK sequential and at its default window; all others
        if row[1] != "do_images" or row[2][-1] in ("1", str(opts.default_concurrency))
    ]
    streams = [
        (
            f"do_images streaming {n:,}",
            "do_images",
            ["--concurrency", str(opts.default_concurrency), "--limit", str(n)],
        )
        for n in opts.stream
    ]
    return [
        {
            "key": "latency",
            "title": f"{opts.pages} pages x 200 images, {opts.latency_ms:g} ms latency",
            "images": opts.pages * 200,
            "latency_ms": opts.latency_ms,
            "contenders": walk,
        },
        {
            "key": "cpu",
            "title": f"{opts.cpu_pages} pages x 200 images, 0 ms latency",
            "images": opts.cpu_pages * 200,
            "latency_ms": 0.0,
            "contenders": cpu,
        },
        {
            "key": "stream",
            "title": "streaming without keeping items, 0 ms latency",
            "images": max(opts.stream),
            "latency_ms": 0.0,
            "contenders": streams,
        },
        {
            "key": "accounts",
            "title": f"{opts.accounts} accounts x {opts.account_pages} pages x 200 images, "
            f"{opts.latency_ms:g} ms latency, one process, raw over one session",
            "images": opts.account_pages * 200,
            "latency_ms": opts.latency_ms,
            "baseline": report.RAW_ACCOUNTS,
            "contenders": [
                (report.RAW_ACCOUNTS, "raw-accounts", accounts),
                (report.RAW_ACCOUNTS_IN_TURN, "raw-accounts", [*accounts, "--sequential"]),
                (
                    "do_images, own sessions",
                    "do_images-accounts",
                    [*accounts, "--concurrency", str(opts.default_concurrency)],
                ),
                (
                    "do_images, shared session",
                    "do_images-accounts",
                    [*accounts, "--concurrency", str(opts.default_concurrency), "--shared-session"],
                ),
                (report.CRAWL, "do_images-crawl", accounts),
            ],
        },
        {
            "key": "wide",
            "title": f"{opts.wide_accounts} accounts x 1 page x 200 images, "
            f"{opts.latency_ms:g} ms latency, one process, raw over one session",
            "images": 200,
            "latency_ms": opts.latency_ms,
            "baseline": report.RAW_ACCOUNTS,
            "contenders": [
                (report.RAW_ACCOUNTS, "raw-accounts", wide),
                # The SDK without crawl's machinery: one Client per account, all at once.
                (
                    "do_images, shared session",
                    "do_images-accounts",
                    [*wide, "--concurrency", str(opts.default_concurrency), "--shared-session"],
                ),
                (report.CRAWL, "do_images-crawl", wide),
                (
                    f"{report.CRAWL}, accounts_in_flight={opts.wide_in_flight}",
                    "do_images-crawl",
                    [*wide, "--accounts-in-flight", str(opts.wide_in_flight)],
                ),
            ],
        },
    ]


def run_scenario(scenario: dict[str, Any], runs: int) -> dict[str, Any]:
    """Every contender `runs` times, interleaved so drifting machine noise hits all alike."""
    emulator = Emulator(scenario["images"], scenario["latency_ms"])
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in scenario["contenders"]}
    try:
        for run in range(runs):
            for label, name, args in scenario["contenders"]:
                result, _ = run_contender(name, emulator.url, args)
                samples[label].append(result)
                print(
                    f"  [{scenario['key']} {run + 1}/{runs}] {label}: {result['wall_s']:.3f}s "
                    f"wall, {result['cpu_s']:.3f}s cpu, {result['items']} items",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        emulator.close()
    rows = []
    for label, results in samples.items():
        row: dict[str, Any] = {"contender": label, "items": results[0]["items"], "runs": results}
        for metric in METRICS:
            values = [r[metric] for r in results if r[metric] is not None]
            row[metric] = statistics.median(values) if values else None
        rows.append(row)
    return {**{k: v for k, v in scenario.items() if k != "contenders"}, "rows": rows}


def profile(opts: argparse.Namespace) -> int:
    """The decode path's profile: where a streaming crawl's time goes, and items per second."""
    emulator = Emulator(opts.cpu_pages * 200, 0.0)
    try:
        args = ["--concurrency", str(opts.default_concurrency), "--profile", str(opts.profile)]
        result, report = run_contender("do_images", emulator.url, args)
    finally:
        emulator.close()
    print(report)
    print(
        f"{result['items']:,} items in {result['wall_s']:.2f}s wall, {result['cpu_s']:.2f}s CPU "
        f"(under the profiler): {result['items'] / result['cpu_s']:,.0f} items per CPU second"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--runs", type=int, default=5, help="runs per contender (medians reported)")
    p.add_argument("--latency-ms", type=float, default=30.0, help="latency scenario's delay")
    p.add_argument("--pages", type=int, default=100, help="pages of 200 in the latency scenario")
    p.add_argument("--cpu-pages", type=int, default=500, help="pages of 200 at 0 ms latency")
    p.add_argument(
        "--stream",
        type=int,
        nargs=2,
        default=[20_000, 100_000],
        metavar="N",
        help="item counts of the two streaming runs compared for peak RSS",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[2, 4, 16],
        help="do_images prefetch windows to try (the default window is always added)",
    )
    p.add_argument(
        "--default-concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="the window used in the CPU and streaming scenarios",
    )
    p.add_argument(
        "--accounts", type=int, default=100, help="clients in the many-accounts scenario"
    )
    p.add_argument("--account-pages", type=int, default=10, help="pages of 200 each account walks")
    p.add_argument(
        "--wide-accounts",
        type=int,
        default=None,
        help="accounts of one page in the wide scenario (default: 10 times --accounts)",
    )
    p.add_argument(
        "--wide-in-flight",
        type=int,
        default=100,
        help="crawl's accounts_in_flight also measured in the wide scenario (the pool's size)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=["latency", "cpu", "stream", "accounts", "wide"],
        help="scenarios",
    )
    p.add_argument("--no-peers", action="store_true", help="skip pydo and python-digitalocean")
    p.add_argument(
        "--profile",
        type=int,
        metavar="TOP",
        help="only cProfile a do_images walk of "
        "--cpu-pages pages at 0 ms latency and print its TOP functions",
    )
    p.add_argument("--out", type=Path, default=HERE / "results", help="output directory")
    opts = p.parse_args(argv)
    if opts.wide_accounts is None:
        opts.wide_accounts = 10 * opts.accounts
    if opts.profile:
        return profile(opts)
    started = time.time()
    results = []
    for scenario in scenarios(opts):
        if opts.only and scenario["key"] not in opts.only:
            continue
        print(f"{scenario['title']} ...", file=sys.stderr, flush=True)
        results.append(run_scenario(scenario, opts.runs))
    document = report.build(results, opts, seconds=time.time() - started)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    (opts.out / "results.md").write_text(report.markdown(document))
    (opts.out / "chart.svg").write_text(report.svg(document))
    print(report.markdown(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
