"""The in-memory store: images, actions, account transfers, accounts, and their lifecycles.

Pure state, no HTTP: handlers call these methods, which raise ``ApiError`` for DO error answers.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, insort
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from . import _pagination
from ._errors import not_found, unprocessable
from ._seed import KINDS, PUBLIC_KINDS, TYPE_ATTRIBUTE, default_fields
from ._vocab import region_object

DEFAULT_ACCOUNT = "default"
FIRST_IMAGE_ID = 160_000_001
FIRST_ACTION_ID = 2_300_000_001
FIRST_TRANSFER_ID = 3_164_001
_UUID_NAMESPACE = uuid.UUID("6f1c4b8e-9a55-4d0e-8f3e-d0d0d0c0ffee")
ISO = "%Y-%m-%dT%H:%M:%SZ"
IMPORT_FAILURE = "Image import failed: the image could not be downloaded from the given url"


def now_iso(earlier: float = 0.0) -> str:
    """The current UTC time (less `earlier` seconds) in DigitalOcean's ``2014-11-14T16:29:21Z``
    form."""
    return (datetime.now(timezone.utc) - timedelta(seconds=earlier)).strftime(ISO)


@dataclass
class _Image:
    data: dict[str, Any]  # exactly what is served
    kind: str
    account: str | None  # None for public images
    gets: int = 0
    importing: dict[str, Any] | None = None  # the import body while status is NEW


@dataclass
class _Action:
    data: dict[str, Any]
    image_id: int
    account: str  # who started it: the one who sees it under /v2/actions
    gets: int = 0
    error: str | None = None  # set by fail_next_action: the action will end "errored"


@dataclass
class _Transfer:
    id: int
    image_id: int
    sender: str
    recipient: str | None  # account name when known


@dataclass
class Store:
    """Every image, action and transfer, indexed so a listing page costs O(page)."""

    steps: int = 1
    images: dict[int, _Image] = field(default_factory=dict[int, _Image])
    actions: dict[int, _Action] = field(default_factory=dict[int, _Action])
    transfers: dict[int, _Transfer] = field(default_factory=dict[int, _Transfer])
    accounts: dict[str, str] = field(default_factory=dict[str, str])  # name -> team uuid
    _public: dict[str, list[int]] = field(
        default_factory=lambda: {k: [] for k in sorted(PUBLIC_KINDS)}
    )
    _private: dict[str, list[int]] = field(default_factory=dict[str, list[int]])
    _tags: dict[str, list[int]] = field(default_factory=dict[str, list[int]])
    _slugs: dict[str, int] = field(default_factory=dict[str, int])
    _image_actions: dict[int, list[int]] = field(default_factory=dict[int, list[int]])
    _account_actions: dict[str, list[int]] = field(default_factory=dict[str, list[int]])
    _next_image: int = FIRST_IMAGE_ID
    _next_action: int = FIRST_ACTION_ID
    _next_transfer: int = FIRST_TRANSFER_ID
    _fail_next: list[str] = field(default_factory=list[str])

    # -- accounts ---------------------------------------------------------------------------

    def account_uuid(self, name: str) -> str:
        """The deterministic team uuid of account ``name`` (registering the account)."""
        if name not in self.accounts:
            self.accounts[name] = str(uuid.uuid5(_UUID_NAMESPACE, name))
        return self.accounts[name]

    @staticmethod
    def account_email(name: str) -> str:
        """The deterministic email of account ``name``."""
        return f"{name}@example.com"

    def _account_by_uuid(self, team_uuid: str) -> str | None:
        return next((n for n, u in self.accounts.items() if u == team_uuid), None)

    def _account_by_email(self, email: str) -> str | None:
        local, _, domain = email.partition("@")
        if domain.lower() == "example.com" and local:
            self.account_uuid(local)
            return local
        return None

    # -- indexes ----------------------------------------------------------------------------

    def _index(self, img: _Image) -> None:
        image_id = img.data["id"]
        if img.account is None:
            insort(self._public[img.kind], image_id)
            if img.data.get("slug"):
                self._slugs[img.data["slug"]] = image_id
        else:
            insort(self._private.setdefault(img.account, []), image_id)
        for tag in img.data.get("tags") or ():
            insort(self._tags.setdefault(tag, []), image_id)

    def _unindex(self, img: _Image) -> None:
        image_id = img.data["id"]
        if img.account is None:
            _discard(self._public[img.kind], image_id)
            if self._slugs.get(img.data.get("slug") or "") == image_id:
                del self._slugs[img.data["slug"]]
        else:
            _discard(self._private.get(img.account, []), image_id)
        for tag in img.data.get("tags") or ():
            _discard(self._tags.get(tag, []), image_id)

    # -- test-side helpers --------------------------------------------------------------------

    def add(self, kind: str, account: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new image of ``kind``; ``fields`` override the generated ones."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
        image_id = fields.get("id", self._next_image)
        if not isinstance(image_id, int) or isinstance(image_id, bool) or image_id < 1:
            raise ValueError(f"id must be a positive integer, not {image_id!r}")
        if image_id in self.images:
            raise ValueError(f"an image with id {image_id} already exists")
        self._next_image = max(self._next_image, image_id + 1)
        data = default_fields(kind, image_id, now_iso())
        data.update(fields)
        owner = None if kind in PUBLIC_KINDS else (account or DEFAULT_ACCOUNT)
        if owner is not None:
            self.account_uuid(owner)
        img = _Image(data=data, kind=kind, account=owner)
        self.images[image_id] = img
        self._index(img)
        return copy_image(data)

    def add_many(
        self, count: int, kind: str, account: str | None, fields: Mapping[str, Any]
    ) -> list[int]:
        """Store ``count`` images of ``kind`` with consecutive ids (bulk: 100,000 in under 1 s),
        created a second apart, the last one now (unless ``fields`` date them)."""
        if "id" in fields or count < 1:
            return [self.add(kind, account, fields)["id"] for _ in range(count)]
        dated = "created_at" not in fields
        start = datetime.now(timezone.utc) - timedelta(seconds=count - 1)
        first_fields = {"created_at": start.strftime(ISO), **fields}
        first = self.add(kind, account, first_fields)["id"]  # validates kind and fields once
        template = self.images[first].data
        owner = self.images[first].account
        ids = list(range(first + 1, first + count))
        self._next_image = first + count
        named = [k for k in ("name", "slug") if k not in fields]
        for n, image_id in enumerate(ids, 1):
            data = dict(template)
            data["id"] = image_id
            data["regions"] = list(template["regions"])
            data["tags"] = list(template["tags"] or ())
            defaults = default_fields(kind, image_id, "") if named else {}
            for key in named:
                data[key] = defaults[key]
            if dated:
                data["created_at"] = (start + timedelta(seconds=n)).strftime(ISO)
            img = _Image(data=data, kind=kind, account=owner)
            self.images[image_id] = img
            self._index(img)
        return [first, *ids]

    def snapshot(self, image_id: int) -> dict[str, Any] | None:
        """A copy of the stored image, or None."""
        img = self.images.get(image_id)
        return None if img is None else copy_image(img.data)

    def force(self, image_id: int, fields: Mapping[str, Any]) -> None:
        """Overwrite fields of a stored image (a forced ``status`` ends a running import)."""
        img = self.images.get(image_id)
        if img is None:
            raise KeyError(f"no image with id {image_id}")
        if "id" in fields:
            raise ValueError("an image's id cannot be changed")
        self._unindex(img)
        img.data.update(fields)
        self._index(img)
        if "status" in fields:
            img.importing = None

    def fail_next_action(self, message: str) -> None:
        """Script the next action created to end ``errored``."""
        self._fail_next.append(message)

    # -- images -------------------------------------------------------------------------------

    def _visible(self, account: str, image_id: int) -> _Image:
        img = self.images.get(image_id)
        if img is None or img.account not in (None, account):
            raise not_found()
        return img

    def _own(self, account: str, image_id: int) -> _Image:
        # Public images are nobody's to change: DO answers as if they did not exist for the caller.
        img = self.images.get(image_id)
        if img is None or img.account != account:
            raise not_found()
        return img

    def list_images(
        self,
        account: str,
        kind: str | None,
        private: bool,
        tag: str | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        """``(total, page)`` of the images the caller sees, filtered, in ascending id order."""
        if private:
            lists = [] if kind else [self._private.get(account, [])]
        elif kind:
            lists = [self._public[kind]]
        else:
            lists = [*self._public.values(), self._private.get(account, [])]
        if tag is None:
            total = sum(len(lst) for lst in lists)
            ids = _pagination.merged_slice(lists, offset, limit)
        else:  # tag lists are short: filter them directly
            members = self._tags.get(tag, [])
            ids = [i for i in members if self._matches(self.images[i], account, kind, private)]
            total = len(ids)
            ids = ids[offset : offset + limit]
        return total, [self.images[i].data for i in ids]

    @staticmethod
    def _matches(img: _Image, account: str, kind: str | None, private: bool) -> bool:
        if img.account not in (None, account):
            return False
        if private:
            return img.account is not None and kind is None
        return kind is None or (img.account is None and img.kind == kind)

    def get_image(self, account: str, ref: str) -> dict[str, Any]:
        """An image by id (any visible) or slug (public only); each GET advances an import."""
        if ref.isascii() and ref.isdigit():  # "²".isdigit() holds, but it is no number
            img = self._visible(account, int(ref))
        elif ref in self._slugs:
            img = self.images[self._slugs[ref]]
        else:
            raise not_found()
        if img.importing is not None:
            img.gets += 1
            if img.gets >= self.steps:
                self._finish_import(img)
        return img.data

    def _finish_import(self, img: _Image) -> None:
        body, img.importing = img.importing or {}, None
        if "fail" in body.get("url", ""):
            img.data.update(status="deleted", error_message=IMPORT_FAILURE)
        else:
            img.data.update(
                status="available",
                regions=[body["region"]],
                min_disk_size=20,
                size_gigabytes=round(0.5 + (img.data["id"] % 400) / 100, 2),
            )

    def create_custom(self, account: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start a custom image import: status NEW, no regions until it is available."""
        fields: dict[str, object] = {
            "name": body["name"], "distribution": body["distribution"], "regions": [],
            "created_at": now_iso(), "min_disk_size": None, "size_gigabytes": None,
            "description": body["description"], "tags": body["tags"], "status": "NEW",
        }  # fmt: skip
        data = self.add("custom", account, fields)
        img = self.images[data["id"]]
        img.importing = body
        if self.steps <= 0:
            self._finish_import(img)
        return data

    def update_image(self, account: str, image_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Rename / re-describe one of the caller's images."""
        img = self._own(account, image_id)
        img.data.update(changes)
        return img.data

    def delete_image(self, account: str, image_id: int) -> None:
        """Delete one of the caller's images (its pending transfers go with it)."""
        img = self._own(account, image_id)
        self._unindex(img)
        del self.images[image_id]
        for tid in [t.id for t in self.transfers.values() if t.image_id == image_id]:
            del self.transfers[tid]

    # -- actions ------------------------------------------------------------------------------

    def list_actions(
        self, account: str, image_id: int, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """``(total, page)`` of an image's actions, oldest first."""
        self._visible(account, image_id)
        ids = self._image_actions.get(image_id, [])
        return len(ids), [self.actions[i].data for i in ids[offset : offset + limit]]

    def create_action(
        self, account: str, image_id: int, kind: str, region: str | None
    ) -> dict[str, Any]:
        """Start a transfer or convert action on one of the caller's images."""
        img = self._own(account, image_id)
        if kind == "convert" and img.kind != "backup":
            raise unprocessable("Only backups can be converted to snapshots.")
        region = region or str(next(iter(img.data.get("regions") or []), "nyc3"))
        action_id = self._next_action
        self._next_action += 1
        action = _Action(
            data={
                "id": action_id, "status": "in-progress", "type": kind,
                "started_at": now_iso(), "completed_at": None,
                "resource_id": image_id, "resource_type": "image",
                "region": region_object(region), "region_slug": region,
            },
            image_id=image_id,
            account=account,
            error=self._fail_next.pop(0) if self._fail_next else None,
        )  # fmt: skip
        self.actions[action_id] = action
        self._image_actions.setdefault(image_id, []).append(action_id)
        self._account_actions.setdefault(account, []).append(action_id)
        served = copy_image(action.data)
        if self.steps <= 0:
            self._finish_action(action)
        return served

    def get_action(self, account: str, image_id: int, action_id: int) -> dict[str, Any]:
        """One action; each GET advances it until it completes (or errors, if scripted)."""
        self._visible(account, image_id)
        action = self.actions.get(action_id)
        if action is None or action.image_id != image_id:
            raise not_found()
        return self._advance(action)

    def get_any_action(self, account: str, action_id: int) -> dict[str, Any]:
        """``GET /v2/actions/{id}``: one of the caller's actions, advanced like `get_action`."""
        action = self.actions.get(action_id)
        if action is None or action.account != account:
            raise not_found()
        return self._advance(action)

    def list_any_actions(
        self, account: str, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """``GET /v2/actions``: ``(total, page)`` of every action the caller started, oldest
        first."""
        ids = self._account_actions.get(account, [])
        return len(ids), [self.actions[i].data for i in ids[offset : offset + limit]]

    def _advance(self, action: _Action) -> dict[str, Any]:
        if action.data["status"] == "in-progress":
            action.gets += 1
            if action.gets >= self.steps:
                self._finish_action(action)
        return action.data

    def _finish_action(self, action: _Action) -> None:
        action.data.update(
            status="errored" if action.error is not None else "completed", completed_at=now_iso()
        )
        img = self.images.get(action.image_id)
        if action.error is not None or img is None:
            return
        if action.data["type"] == "transfer":
            slug = action.data["region_slug"]
            if slug not in img.data["regions"]:
                img.data["regions"] = [*img.data["regions"], slug]
        elif img.kind == "backup":  # convert
            img.kind = "snapshot"
            img.data["type"] = TYPE_ATTRIBUTE["snapshot"]

    # -- account transfers --------------------------------------------------------------------

    def _move(self, img: _Image, recipient: str) -> None:
        self._unindex(img)
        img.account = recipient
        self._index(img)

    def create_transfer(
        self, account: str, image_id: int, email: str | None, team: str | None
    ) -> int:
        """Offer a snapshot to another account: 0 when a known team takes it at once, else an id."""
        img = self._own(account, image_id)
        if img.kind != "snapshot":
            raise unprocessable("Only snapshots can be transferred to another account.")
        if any(t.image_id == image_id for t in self.transfers.values()):
            raise unprocessable("This image already has a pending account transfer.")
        if team is not None:
            recipient = self._account_by_uuid(team)
            if recipient is None:
                raise unprocessable(f"recipient_uuid {team!r} does not name a known team")
        else:
            recipient = self._account_by_email(email or "")
        if recipient == account:
            raise unprocessable("An image cannot be transferred to the account that owns it.")
        if team is not None and recipient is not None:
            self._move(img, recipient)
            return 0
        transfer_id = self._next_transfer
        self._next_transfer += 1
        self.transfers[transfer_id] = _Transfer(transfer_id, image_id, account, recipient)
        return transfer_id

    def _transfer(self, image_id: int, transfer_id: int) -> _Transfer:
        transfer = self.transfers.get(transfer_id)
        if transfer is None or transfer.image_id != image_id:
            raise not_found()
        return transfer

    def _offered_to(self, account: str, image_id: int, transfer_id: int) -> _Transfer:
        # Only the recipient may settle a transfer; to anyone else (the sender included) it is
        # not there, as DigitalOcean answers for what the caller may not see.
        transfer = self._transfer(image_id, transfer_id)
        if transfer.recipient != account:
            raise not_found()
        return transfer

    def accept_transfer(self, account: str, image_id: int, transfer_id: int, team: str) -> None:
        """The recipient accepts a pending transfer into its own team: the image moves."""
        self._offered_to(account, image_id, transfer_id)
        if self.accounts.get(account) != team:
            raise unprocessable("recipient_uuid does not match the transfer's recipient")
        del self.transfers[transfer_id]
        self._move(self.images[image_id], account)

    def cancel_transfer(self, account: str, image_id: int, transfer_id: int) -> None:
        """The sender withdraws a pending transfer."""
        transfer = self._transfer(image_id, transfer_id)
        if transfer.sender != account:
            raise not_found()
        del self.transfers[transfer_id]

    def decline_transfer(self, account: str, image_id: int, transfer_id: int) -> None:
        """The recipient refuses a pending transfer; the image stays with the sender."""
        self._offered_to(account, image_id, transfer_id)
        del self.transfers[transfer_id]


def copy_image(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of an image object that shares no mutable part with the store."""
    copied: dict[str, Any] = msgspec.json.decode(
        msgspec.json.encode(data)
    )  # as a client would decode it
    return copied


def _discard(ids: list[int], image_id: int) -> None:
    i = bisect_left(ids, image_id)
    if i < len(ids) and ids[i] == image_id:
        del ids[i]
