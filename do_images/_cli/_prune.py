"""``images prune``'s choice: of the matching images, keep the N newest and give up the rest.

One pass in O(N) memory: an image pushed out of the N newest seen so far can never be among
the N newest overall, so it is reported at once.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime, timedelta, timezone

from do_images import Image

from ._layouts import Pruned
from ._output import Batch

#: The API deletes snapshots and custom images; backups belong to their Droplet's schedule.
PRUNABLE = ("snapshot", "custom")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: The longest --older-than: older than DigitalOcean itself, and far from datetime's limits.
MAX_AGE = timedelta(days=100 * 366)


def age(text: str) -> timedelta:
    """``90m``, ``12h``, ``30d``, ``2w`` (or seconds: ``45s``) as a duration."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text.lower())
    if match is None:
        raise ValueError(f"--older-than: expected a number and a unit (s, m, h, d, w) such as "
                         f"30d, not {text!r}")  # fmt: skip
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_AGE.total_seconds():
        raise ValueError(f"--older-than: {text.strip()!r} is longer than any image's age "
                         f"(at most {MAX_AGE.days}d)")  # fmt: skip
    return timedelta(seconds=seconds)


class Prune:
    """The filters and the count to keep; `walk` a listing to learn what goes."""

    def __init__(
        self,
        keep: int,
        *,
        name_prefix: str | None = None,
        tag: str | None = None,
        older_than: timedelta | None = None,
        now: datetime | None = None,
    ) -> None:
        if keep < 0:
            raise ValueError(f"--keep must be 0 or more, not {keep}")
        for flag, value in (("--name-prefix", name_prefix), ("--tag", tag)):
            # An unset shell variable gives "": a filter that would match every image.
            if value is not None and not value.strip():
                raise ValueError(f"{flag} is empty: it would match every image; give a value "
                                 "or leave the option out")  # fmt: skip
        if name_prefix is None and tag is None and older_than is None:
            raise ValueError(
                "prune needs a filter (--name-prefix, --tag or --older-than): "
                "it will not choose among all your images"
            )
        self.keep = keep
        self.name_prefix = name_prefix
        self.cutoff = None if older_than is None else (now or _now()) - older_than
        self._newest: list[tuple[datetime, int, Image]] = []  # a min-heap of at most `keep`

    @property
    def kept(self) -> int:
        """How many matching images stay (after a whole walk: the N newest)."""
        return len(self._newest)

    def matches(self, image: Image) -> bool:
        """Whether `image` is one of the candidates (an image without a date never is)."""
        if image.type not in PRUNABLE or image.created_at is None:
            return False
        if self.name_prefix is not None and not (image.name or "").startswith(self.name_prefix):
            return False
        return self.cutoff is None or image.created_at < self.cutoff

    def _push(self, image: Image) -> Image | None:
        """Offer `image` to the newest; the one that can no longer be kept, if any."""
        entry = (image.created_at or _now(), image.id or 0, image)  # matches() ruled out None
        if len(self._newest) < self.keep:
            heapq.heappush(self._newest, entry)
            return None
        if self.keep == 0:
            return image
        return heapq.heappushpop(self._newest, entry)[2]

    def offer(self, image: Image) -> Pruned | None:
        """Offer one listed image: the one that will not be kept (``would delete``), if any."""
        gone = self._push(image) if self.matches(image) else None
        return None if gone is None else Pruned(gone.id or 0, "would delete", None, gone.name,
                                                gone.created_at)  # fmt: skip

    async def walk(self, pages: AsyncGenerator[Batch, None]) -> AsyncGenerator[Batch, None]:
        """For each page of images, the images that will not be kept (as ``would delete``)."""
        async with aclosing(pages):
            async for items, _ in pages:
                offered = (self.offer(i) for i in items if isinstance(i, Image))
                yield [gone for gone in offered if gone is not None], None


def _now() -> datetime:
    return datetime.now(timezone.utc)
