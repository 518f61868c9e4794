"""`client.images`: paths, parameters and envelope keys of /v2/images — nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from . import _validate as check
from ._call import Transport
from ._convert import decode_one
from ._errors import DigitalOceanError, ImageFailedError, WaitTimeoutError
from ._models import Image
from ._pagination import Paginator
from ._params import present, query
from ._wait import poll

IMAGES = ("v2", "images")


class Images:
    """Images: distributions, 1-Click applications, snapshots, backups and custom images."""

    def __init__(self, transport: Transport, *, concurrency: int, prefetch_bytes: int) -> None:
        self._transport = transport
        self._concurrency = concurrency
        self._prefetch_bytes = prefetch_bytes

    def list(
        self,
        *,
        type: Literal["distribution", "application"] | None = None,
        private: bool | None = None,
        tag_name: str | None = None,
        per_page: int = 200,
        concurrency: int | None = None,
        start_page: int = 1,
    ) -> Paginator[Image]:
        """Every image matching the filters, streamed page by page (nothing sent until iterated).

        `start_page` resumes a walk: pass the `Page.page` after the last one you finished.

        >>> async for image in client.images.list(type="distribution"):
        ...     print(image.slug)
        """
        params = query(
            type=check.image_type(type),
            private=check.optional_bool("private", private),
            tag_name=check.text("tag_name", tag_name),
        )
        return Paginator(
            self._transport,
            IMAGES,
            params,
            key="images",
            item_type=Image,
            per_page=check.per_page(per_page),
            concurrency=check.optional_positive_int("concurrency", concurrency)
            or self._concurrency,
            start_page=check.positive_int("start_page", start_page),
            prefetch_bytes=self._prefetch_bytes,
        )

    async def get(self, image_id_or_slug: int | str) -> Image:
        """One image by id, or a public image by slug (e.g. ``"ubuntu-24-04-x64"``)."""
        ident = check.image_id_or_slug(image_id_or_slug)
        return await self._one("GET", ident)

    async def create(
        self,
        *,
        name: str,
        url: str,
        region: str,
        distribution: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> Image:
        """Import a custom image from an http(s) URL; it starts with status ``NEW``."""
        body = present(
            name=check.name(name, required=True),
            url=check.import_url(url),
            region=check.region(region),
            distribution=check.text("distribution", distribution),
            description=check.text("description", description),
            tags=check.tags(tags),
        )
        return await self._one("POST", json=body)

    async def update(
        self,
        image_id: int,
        *,
        name: str | None = None,
        distribution: str | None = None,
        description: str | None = None,
    ) -> Image:
        """Rename an image; custom images may also change distribution and description."""
        ident = check.positive_int("image_id", image_id)
        body = present(
            name=check.name(name, required=False),
            distribution=check.text("distribution", distribution),
            description=check.text("description", description),
        )
        if not body:
            raise ValueError("update needs at least one of name, distribution or description")
        return await self._one("PUT", ident, json=body)

    async def delete(self, image_id: int) -> None:
        """Delete a snapshot, backup or custom image."""
        await self._transport.request("DELETE", *IMAGES, check.positive_int("image_id", image_id))

    async def wait(
        self,
        image_id: Image | int,
        *,
        timeout: float | None = None,
        poll_interval: float = 5.0,
    ) -> Image:
        """Poll a custom image import (an `Image` or its id) until it is ``available``.

        Raises ImageFailedError if the import fails (``deleted`` or an ``error_message``),
        and WaitTimeoutError (with the last image seen) past `timeout` seconds.
        """
        ident = check.positive_int(
            "image_id", image_id.id if isinstance(image_id, Image) else image_id
        )
        timeout = check.non_negative_number("timeout", timeout, allow_inf=True)
        timeout = None if timeout == float("inf") else timeout
        interval = check.positive_number("poll_interval", poll_interval)

        def failed(image: Image) -> DigitalOceanError | None:
            broken = image.status == "deleted" or (
                image.status != "available" and (image.error_message or "").strip()
            )
            return ImageFailedError(image) if broken else None

        return await poll(
            lambda: self.get(ident),
            done=lambda image: image.status == "available",
            failed=failed,
            timed_out=lambda image: WaitTimeoutError(
                f"image {ident} still {image.status!r} after {timeout}s"
                if image
                else f"image {ident}: no answer within {timeout}s",
                image,
            ),
            timeout=timeout,
            poll_interval=interval,
            transport=self._transport,
            what=f"wait for image {ident}",
        )

    async def _one(self, method: str, *ident: int | str, json: object = None) -> Image:
        response = await self._transport.request(method, *IMAGES, *ident, json=json)
        return decode_one(response.body, "image", Image, status=response.status)
