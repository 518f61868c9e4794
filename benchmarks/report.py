"""Turn medians into ratios, target verdicts, a Markdown table and a small hand-drawn SVG chart."""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from html import escape
from importlib.metadata import PackageNotFoundError, version
from typing import Any

RAW = "raw aiohttp, concurrent"
# Many accounts: raw aiohttp over one session, each account's pages all at once or in turn.
RAW_ACCOUNTS = "raw aiohttp, all at once"
RAW_ACCOUNTS_IN_TURN = "raw aiohttp, page by page"
CRAWL = "do_images.crawl"
PREFETCH = re.compile(r"do_images, concurrency=(\d+)$")


def _row(scenario: dict[str, Any], label: str) -> dict[str, Any] | None:
    return next((row for row in scenario["rows"] if row["contender"] == label), None)


def _prefetch(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in scenario["rows"] if (m := PREFETCH.match(r["contender"])) and m[1] != "1"]


def _versions() -> dict[str, str]:
    found = {}
    for package in (
        "do-images",
        "aiohttp",
        "msgspec",
        "orjson",
        "cattrs",
        "attrs",
        "pydo",
        "python-digitalocean",
    ):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def _targets(by_key: dict[str, dict[str, Any]], default: int) -> list[dict[str, Any]]:
    """The issues' Done criteria, each with the measured value and a verdict."""
    targets = []

    def add(name: str, value: float | None, limit: float, at_most: bool = True) -> None:
        held = value is not None and (value <= limit if at_most else value >= limit)
        targets.append(
            {"target": name, "value": value, "limit": limit, "at_most": at_most, "held": held}
        )

    latency, cpu, stream = by_key.get("latency"), by_key.get("cpu"), by_key.get("stream")
    accounts = by_key.get("accounts")
    if latency and (raw := _row(latency, RAW)) and (prefetch := _prefetch(latency)):
        best = min(prefetch, key=lambda r: r["wall_s"])
        add(
            f"latency: {best['contender']} wall / raw concurrent wall",
            best["wall_s"] / raw["wall_s"],
            1.15,
        )
        chosen = _row(latency, f"do_images, concurrency={default}")
        if chosen is not None:
            add(
                f"latency: {chosen['contender']} (default) wall / raw concurrent wall",
                chosen["wall_s"] / raw["wall_s"],
                1.15,  # issue 11: default settings within 1.15x the raw concurrent limit
            )
        for peer in ("pydo", "python-digitalocean"):
            if (row := _row(latency, peer)) is not None:
                add(
                    f"latency: {peer} wall / {best['contender']} wall",
                    row["wall_s"] / best["wall_s"],
                    6.0,
                    at_most=False,
                )
        ttfi = max(r["ttfi_s"] for r in prefetch)
        add(
            "latency: slowest prefetch time to first item / one page's latency",
            ttfi / (latency["latency_ms"] / 1000) if latency["latency_ms"] else None,
            1.5,
        )
    if cpu and (raw := _row(cpu, RAW)):
        for row in cpu["rows"]:
            if row["contender"].startswith("do_images"):
                # Typed objects for no more CPU than untyped dicts.
                add(
                    f"cpu: {row['contender']} CPU / raw concurrent CPU",
                    row["cpu_s"] / raw["cpu_s"],
                    1.0,
                )
                if (pydo := _row(cpu, "pydo")) is not None:
                    add(
                        f"cpu: {row['contender']} CPU / pydo CPU", row["cpu_s"] / pydo["cpu_s"], 1.0
                    )
    # Against both raw patterns: each account's pages at once (as do_images prefetches them),
    # and each account's pages in turn (fewer requests queue in the pool: less CPU).
    for label in (RAW_ACCOUNTS, RAW_ACCOUNTS_IN_TURN):
        if not accounts or (raw := _row(accounts, label)) is None:
            continue
        for row in accounts["rows"]:
            if row["contender"].startswith("do_images") and row["contender"] != CRAWL:
                for metric, what in (("wall_s", "wall"), ("cpu_s", "CPU")):
                    add(
                        f"accounts: {row['contender']} {what} / {label} {what}",
                        row[metric] / raw[metric],
                        1.3,
                    )
    # Issue 17: crawl within 1.15x of raw aiohttp firing every request at once (10 pages an
    # account), within 1.3x for many one-page accounts.
    for key, limit in (("accounts", 1.15), ("wide", 1.3)):
        scenario = by_key.get(key)
        if not scenario or (raw := _row(scenario, RAW_ACCOUNTS)) is None:
            continue
        for row in scenario["rows"]:
            if row["contender"].startswith(CRAWL):
                for metric, what in (("wall_s", "wall"), ("cpu_s", "CPU")):
                    add(
                        f"{key}: {row['contender']} {what} / {RAW_ACCOUNTS} {what}",
                        row[metric] / raw[metric],
                        limit,
                    )
    if stream and len(stream["rows"]) == 2:
        small, large = stream["rows"]
        add(
            f"stream: peak RSS {large['contender']} / {small['contender']}",
            large["peak_rss_mib"] / small["peak_rss_mib"],
            1.10,
        )
    return targets


def build(results: list[dict[str, Any]], opts: argparse.Namespace, *, seconds: float) -> Any:
    """The JSON document: environment, per-scenario medians and ratios, target verdicts."""
    for scenario in results:
        raw = _row(scenario, scenario.get("baseline", RAW))
        for row in scenario["rows"]:
            for metric in ("wall_s", "cpu_s"):
                ratio = row[metric] / raw[metric] if raw and raw[metric] else None
                row[metric.replace("_s", "_vs_raw")] = ratio
    by_key = {scenario["key"]: scenario for scenario in results}
    return {
        "command": " ".join(["uv run --extra bench python -m benchmarks", *sys.argv[1:]]),
        "runs": opts.runs,
        "seconds": round(seconds, 1),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "versions": _versions(),
        },
        "scenarios": results,
        "targets": _targets(by_key, opts.default_concurrency),
    }


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def markdown(document: dict[str, Any]) -> str:
    out = [
        f"# do_images benchmarks\n\n`{document['command']}` — medians of "
        f"{document['runs']} runs, each contender in its own process; "
        f"Python {document['machine']['python']}, {document['machine']['cpus']} CPUs.\n"
    ]
    for scenario in document["scenarios"]:
        out.append(f"\n## {scenario['title']}\n")
        out.append(
            "| contender | items | wall | CPU | peak RSS | first item | wall ÷ raw | CPU ÷ raw |"
        )
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in scenario["rows"]:
            out.append(
                f"| {r['contender']} | {r['items']:,} | {_fmt(r['wall_s'], '.3f', ' s')} "
                f"| {_fmt(r['cpu_s'], '.3f', ' s')} | {_fmt(r['peak_rss_mib'], '.1f', ' MiB')} "
                f"| {_fmt(r['ttfi_s'] and r['ttfi_s'] * 1000, '.1f', ' ms')} "
                f"| {_fmt(r['wall_vs_raw'], '.2f', 'x')} | {_fmt(r['cpu_vs_raw'], '.2f', 'x')} |"
            )
    out.append("\n## Targets\n\n| target | measured | limit | held |\n| --- | ---: | ---: | --- |")
    for t in document["targets"]:
        sign = "≤" if t["at_most"] else "≥"
        out.append(
            f"| {t['target']} | {_fmt(t['value'], '.2f')} | {sign} {t['limit']:g} "
            f"| {'yes' if t['held'] else '**no**'} |"
        )
    return "\n".join(out) + "\n"


def _colour(label: str) -> str:
    if label.startswith("do_images"):
        return "#1f6feb"
    return "#8b949e" if label.startswith("raw") else "#d9822b"


def _panel(scenario: dict[str, Any], metric: str, title: str, top: int) -> tuple[list[str], int]:
    rows = [r for r in scenario["rows"] if r[metric] is not None]
    longest = max(r[metric] for r in rows)
    ratio = metric.replace("_s", "_vs_raw")
    parts = [f'<text x="10" y="{top + 16}" class="t">{escape(title)}</text>']
    y = top + 28
    for r in rows:
        width = 420 * r[metric] / longest
        note = f"{r[metric]:.2f} s" + (f"  ({r[ratio]:.2f}x raw)" if r[ratio] else "")
        parts += [
            f'<text x="210" y="{y + 13}" text-anchor="end">{escape(r["contender"])}</text>',
            f'<rect x="216" y="{y}" width="{width:.1f}" height="18" '
            f'fill="{_colour(r["contender"])}"/>',
            f'<text x="{220 + width:.1f}" y="{y + 13}">{escape(note)}</text>',
        ]
        y += 24
    return parts, y + 10


def svg(document: dict[str, Any]) -> str:
    """Wall time at latency, CPU time at 0 ms, and both for many accounts, one bar per
    contender (shorter is better)."""
    by_key = {scenario["key"]: scenario for scenario in document["scenarios"]}
    parts: list[str] = []
    y = 0
    panels = [("latency", "wall_s", "wall time"), ("cpu", "cpu_s", "CPU time")]
    panels += [("accounts", "wall_s", "wall time"), ("accounts", "cpu_s", "CPU time")]
    for key, metric, what in panels:
        if key in by_key:
            panel, y = _panel(by_key[key], metric, f"{what}: {by_key[key]['title']}", y)
            parts += panel
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="820" height="{y}" '
        f'viewBox="0 0 820 {y}" font-family="sans-serif" font-size="12">'
        "<style>.t{font-weight:bold;font-size:14px}</style>"
        f'<rect width="820" height="{y}" fill="white"/>'
    )
    return head + "".join(parts) + "</svg>\n"
