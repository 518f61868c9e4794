"""Frozen attrs models of what the Images API returns. Data only, no I/O.

An image's and an action's `id` is required (every real answer carries one); lists are tuples,
``()`` when an answer leaves them out or sends ``null``; other fields are ``None`` only where
the API leaves them out (the create answer is a subset). Enum-like fields are plain `str` so a
value DigitalOcean adds later never breaks decoding.
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
    """Identifier such as ``"nyc3"``; ``None`` only if the answer leaves it out."""
    name: str | None = None
    """Display name such as ``"New York 3"``; ``None`` when the answer gives only the slug."""
    sizes: tuple[str, ...] = ()
    """Droplet size slugs offered in the region (``"s-1vcpu-1gb"``); ``()`` when not given."""
    features: tuple[str, ...] = ()
    """Features the region offers, such as ``"backups"`` or ``"ipv6"``; ``()`` when not given."""
    available: bool | None = None
    """Whether new resources can be created in the region; ``None`` when not given."""


@attrs.frozen(slots=True)
class Image:
    """A DigitalOcean image: distribution, 1-Click application, snapshot, backup or custom."""

    id: int
    """The image's unique id (public images also have a `slug`). Always present: an answer
    without an integer id is a `ResponseDecodeError`."""
    name: str | None = None
    """Display name, such as ``"24.04 (LTS) x64"``; ``None`` only if the answer leaves it out."""
    type: str | None = None
    """The image's kind: ``base``, ``snapshot``, ``backup``, ``custom`` or ``admin``; ``None``
    when the answer leaves it out (a custom image's create answer may)."""
    distribution: str | None = None
    """The operating system family, such as ``"Ubuntu"``; ``None`` when not given."""
    slug: str | None = None
    """Set on public images; ``None`` (or ``""`` in some answers) on private ones."""
    public: bool | None = None
    """Whether every account can use the image; ``None`` when the answer leaves it out (the
    create answer may)."""
    regions: tuple[str, ...] = ()
    """Slugs of the regions the image is available in; ``()`` while an import is in progress,
    or when the answer leaves them out or sends ``null``."""
    created_at: AwareDatetime | None = None
    """When the image was created (timezone-aware; a naive answer is read as UTC); ``None``
    when the answer leaves it out."""
    min_disk_size: int | None = None
    """The smallest disk, in GB, a Droplet needs to use the image; ``None`` when not given
    (imports in progress, whose size is not known yet)."""
    size_gigabytes: float | None = None
    """The image's size in GB; ``None`` when not given (imports in progress)."""
    description: str | None = None
    """Free text given when the image was created or updated; ``None`` when there is none."""
    tags: tuple[str, ...] = ()
    """Tag names applied to the image; ``()`` when it has none (the API may send ``null``)."""
    status: str | None = None
    """``NEW``, ``available``, ``pending``, ``deleted`` or ``retired``; ``None`` when the
    answer leaves it out."""
    error_message: str | None = None
    """Why a custom image import failed; ``None`` (or ``""``) when nothing failed."""


@attrs.frozen(slots=True)
class Action:
    """An image action (transfer or convert) and its progress."""

    id: int
    """The action's unique id. Always present: an answer without an integer id is a
    `ResponseDecodeError`."""
    status: str | None = None
    """``in-progress``, ``completed`` or ``errored``; ``None`` only if the answer leaves it out."""
    type: str | None = None
    """What the action does, such as ``"transfer"`` or ``"convert"``; ``None`` when not given."""
    started_at: AwareDatetime | None = None
    """When the action started (timezone-aware); ``None`` when not given."""
    completed_at: AwareDatetime | None = None
    """When the action finished; ``None`` while it runs (timezone-aware)."""
    resource_id: int | None = None
    """The id of the image the action works on; ``None`` when not given."""
    resource_type: str | None = None
    """The kind of resource the action works on, ``"image"`` here; ``None`` when not given."""
    region: Region | None = None
    """The region the action runs in (older answers give only its slug); ``None`` when not
    given."""
    region_slug: str | None = None
    """The slug of `region`; ``None`` when not given."""


@attrs.frozen(slots=True)
class RateLimit:
    """The API's last word on the token's quota (the hourly window)."""

    limit: int | None
    """Requests allowed per hour (``ratelimit-limit``); ``None`` when the answer lacks the header
    or it is not an integer."""
    remaining: int | None
    """Requests left in the window (``ratelimit-remaining``); ``None`` when absent or unreadable."""
    reset_at: datetime | None
    """When the oldest counted request leaves the window (it is a sliding window); ``None`` when
    ``ratelimit-reset`` is absent or unreadable."""
