"""Frozen attrs models of what the Images API returns. Data only, no I/O.

Every field may be None: the spec marks none required and real answers leave many out.
Enum-like fields are plain `str` so a value DigitalOcean adds later never breaks decoding.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import attrs
from msgspec import Meta

# A timestamp with its offset. msgspec refuses a naive one here, so such an answer takes the
# cattrs path in _convert, which reads it as UTC: every decoded timestamp is aware.
AwareDatetime = Annotated[datetime, Meta(tz=True)]


@attrs.frozen(slots=True)
class Region:
    """A datacenter region as embedded in an action."""

    slug: str | None = None
    """Identifier such as ``"nyc3"``."""
    name: str | None = None
    """Display name such as ``"New York 3"``."""
    sizes: tuple[str, ...] | None = None
    """Droplet size slugs offered in the region, such as ``"s-1vcpu-1gb"``."""
    features: tuple[str, ...] | None = None
    """Features the region offers, such as ``"backups"`` or ``"ipv6"``."""
    available: bool | None = None
    """Whether new resources can be created in the region."""


@attrs.frozen(slots=True)
class Image:
    """A DigitalOcean image: distribution, 1-Click application, snapshot, backup or custom."""

    id: int | None = None
    """The image's unique id (public images also have a `slug`)."""
    name: str | None = None
    """Display name, such as ``"24.04 (LTS) x64"``."""
    type: str | None = None
    """The image's kind: ``base``, ``snapshot``, ``backup``, ``custom`` or ``admin``."""
    distribution: str | None = None
    """The operating system family, such as ``"Ubuntu"``."""
    slug: str | None = None
    """Set on public images; ``None`` (or ``""`` in some answers) on private ones."""
    public: bool | None = None
    """Whether every account can use the image."""
    regions: tuple[str, ...] | None = None
    """Slugs of the regions the image is available in."""
    created_at: AwareDatetime | None = None
    """When the image was created (timezone-aware; a naive answer is read as UTC)."""
    min_disk_size: int | None = None
    """The smallest disk, in GB, a Droplet needs to use the image."""
    size_gigabytes: float | None = None
    """The image's size in GB."""
    description: str | None = None
    """Free text given when the image was created or updated."""
    tags: tuple[str, ...] | None = None
    """Tag names applied to the image."""
    status: str | None = None
    """``NEW``, ``available``, ``pending``, ``deleted`` or ``retired``."""
    error_message: str | None = None
    """Why a custom image import failed."""


@attrs.frozen(slots=True)
class Action:
    """An image action (transfer or convert) and its progress."""

    id: int | None = None
    """The action's unique id."""
    status: str | None = None
    """``in-progress``, ``completed`` or ``errored``."""
    type: str | None = None
    """What the action does, such as ``"transfer"`` or ``"convert"``."""
    started_at: AwareDatetime | None = None
    """When the action started (timezone-aware)."""
    completed_at: AwareDatetime | None = None
    """When the action finished; ``None`` while it runs (timezone-aware)."""
    resource_id: int | None = None
    """The id of the image the action works on."""
    resource_type: str | None = None
    """The kind of resource the action works on, ``"image"`` here."""
    region: Region | None = None
    """The region the action runs in (older answers give only its slug)."""
    region_slug: str | None = None
    """The slug of `region`."""


@attrs.frozen(slots=True)
class RateLimit:
    """The API's last word on the token's quota (the hourly window)."""

    limit: int | None
    """Requests allowed per hour (``ratelimit-limit``)."""
    remaining: int | None
    """Requests left in the window (``ratelimit-remaining``)."""
    reset_at: datetime | None
    """When the oldest counted request leaves the window (it is a sliding window)."""
