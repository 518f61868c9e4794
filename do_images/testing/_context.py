"""Everything one emulator instance shares between its HTTP layer and its Python API."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from ._faults import FaultPlan
from ._ratelimit import RateLimiter
from ._records import RecordedRequest
from ._state import DEFAULT_ACCOUNT, Store


@dataclass
class Context:
    """Store, rate limiter, faults, token map, latency and request log of one emulator."""

    store: Store
    limiter: RateLimiter
    faults: FaultPlan
    tokens: Mapping[str, str] | None = None
    latency: float = 0.0
    # The request log; its maxlen (if any) is the bound: older entries are dropped.
    requests: deque[RecordedRequest] = field(default_factory=deque[RecordedRequest])

    def account_for(self, authorization: str | None) -> str | None:
        """The account a ``Bearer`` Authorization header names, or None (→ 401)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if self.tokens is None:
            return DEFAULT_ACCOUNT
        return self.tokens.get(token)


CONTEXT: web.AppKey[Context] = web.AppKey("do_images_emulator", Context)
