"""Frozen attrs models of what the Images API returns. Data only, no I/O.

Every field may be None: the spec marks none required and real answers leave many out.
Enum-like fields are plain `str` so a value DigitalOcean adds later never breaks decoding.
"""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen(slots=True)
class Region:
    """A datacenter region as embedded in an action."""

    slug: str | None = None
    """Identifier such as ``"nyc3"``."""
    name: str | None = None
    """Display name such as ``"New York 3"``."""
    sizes: tuple[str, ...] | None = None
    features: tuple[str, ...] | None = None
    available: bool | None = None


@attrs.frozen(slots=True)
class Image:
    """A DigitalOcean image: distribution, 1-Click application, snapshot, backup or custom."""

    id: int | None = None
    name: str | None = None
    type: str | None = None
    """The image's kind: ``base``, ``snapshot``, ``backup``, ``custom`` or ``admin``."""
    distribution: str | None = None
    slug: str | None = None
    """Set on public images; ``None`` (or ``""`` in some answers) on private ones."""
    public: bool | None = None
    regions: tuple[str, ...] | None = None
    created_at: datetime | None = None
    min_disk_size: int | None = None
    size_gigabytes: float | None = None
    description: str | None = None
    tags: tuple[str, ...] | None = None
    status: str | None = None
    """``NEW``, ``available``, ``pending``, ``deleted`` or ``retired``."""
    error_message: str | None = None
    """Why a custom image import failed."""


@attrs.frozen(slots=True)
class Action:
    """An image action (transfer or convert) and its progress."""

    id: int | None = None
    status: str | None = None
    """``in-progress``, ``completed`` or ``errored``."""
    type: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    resource_id: int | None = None
    resource_type: str | None = None
    region: Region | None = None
    region_slug: str | None = None


@attrs.frozen(slots=True)
class RateLimit:
    """The API's last word on the token's quota (the hourly window)."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    """When the oldest counted request leaves the window (it is a sliding window)."""
