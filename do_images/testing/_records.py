"""The request log entry: what the emulator received and answered (never the token)."""

from __future__ import annotations

import attrs


@attrs.frozen
class RecordedRequest:
    """One request as received. ``status`` is what was answered (0 for a dropped connection);
    ``fault`` is the kind of fault applied, if any. The Authorization header is never stored.
    """

    method: str
    """The HTTP method, e.g. ``"GET"``."""
    path: str
    """The path, e.g. ``"/v2/images/160000029"``."""
    query: dict[str, str]
    """The query parameters (the last value of a repeated one)."""
    json: object
    """The decoded JSON body; None without one, or when it was not JSON."""
    account: str | None
    """The account the bearer token names; None for an unknown or missing token."""
    status: int
    """The status answered; 0 for a dropped connection."""
    fault: str | None = None
    """The kind of the injected `Fault` applied, if any."""
