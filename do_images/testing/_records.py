"""The request log entry: what the emulator received and answered (never the token)."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class RecordedRequest:
    """One request as received. ``status`` is what was answered (0 for a dropped connection);
    ``fault`` is the kind of fault applied, if any. The Authorization header is never stored.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    account: str | None
    status: int
    fault: str | None = None
