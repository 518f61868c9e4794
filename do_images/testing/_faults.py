"""Fault injection: what a ``Fault`` is, which request it hits, and the bytes it answers with."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

FAULT_KINDS = frozenset({"status", "latency", "drop", "truncate", "non_json"})


@attrs.frozen
class Fault:
    """A scripted misbehaviour for the next matching request(s).

    ``kind``: ``"status"`` answers ``status`` with a DO-shaped JSON error (or ``body`` and
    ``content_type`` verbatim); ``"latency"`` waits ``delay`` seconds, then answers normally;
    ``"drop"`` closes the connection without an answer; ``"truncate"`` answers 200 with JSON cut
    in half (Content-Length matches the cut body: the client reads invalid JSON, not a hang);
    ``"non_json"`` answers 200 ``text/html``. ``times=None`` applies to every match; ``path``
    is a regex (``re.search``); ``probability`` uses the emulator's seeded RNG.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(FAULT_KINDS))
    status: int = 500
    body: bytes | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict[str, str])
    delay: float = 0.0
    times: int | None = 1
    method: str | None = None
    path: str | None = None
    probability: float = 1.0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault targets ``method path`` (ignoring ``times`` and ``probability``)."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None


@attrs.define
class _Armed:
    fault: Fault
    remaining: int | None


class FaultPlan:
    """The injected faults, in injection order; the first one that fires wins."""

    def __init__(self, random_seed: int | None = 0) -> None:
        self._armed: list[_Armed] = []
        self._rng = random.Random(random_seed)
        self.served = 0

    def add(self, fault: Fault) -> None:
        """Arm ``fault``."""
        self._armed.append(_Armed(fault, fault.times))

    def clear(self) -> None:
        """Disarm every fault."""
        self._armed.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, if any (counts it as served)."""
        for armed in self._armed:
            fault = armed.fault
            if not fault.matches(method, path):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._armed.remove(armed)
            self.served += 1
            return fault
        return None


_TRUNCATED_SOURCE: dict[str, Any] = {
    "images": [{"id": 160000001, "name": "24.04 (LTS) x64", "distribution": "Ubuntu"}],
    "links": {},
    "meta": {"total": 1},
}
NON_JSON_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)


def truncated_json() -> bytes:
    """A JSON document cut in half: valid UTF-8, invalid JSON."""
    full = msgspec.json.encode(_TRUNCATED_SOURCE)
    return full[: len(full) // 2]
