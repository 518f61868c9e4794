"""``Emulator``: start/stop the in-memory Images API on a local port and script it from Python."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Literal

import msgspec
from aiohttp import web
from yarl import URL

from do_images import Image
from do_images._convert import decode_one
from do_images._windows import DIGITALOCEAN_LIMITS, RateWindow

from ._app import build_app
from ._context import Context
from ._faults import Fault, FaultPlan
from ._ratelimit import RateLimiter
from ._records import RecordedRequest
from ._seed import private_catalogue, public_catalogue
from ._state import DEFAULT_ACCOUNT, Store

ImageKind = Literal["distribution", "application", "snapshot", "backup", "custom"]
"""What an image is: public (distribution, application) or an account's own."""

STANDALONE_REQUEST_LOG = 10_000
"""How many requests the standalone emulator (``python -m do_images.testing``,
``do-images emulator``) keeps in its log: the newest; older ones are dropped (~300 B each)."""


class Emulator:
    """A stateful DigitalOcean Images API on ``http://host:port`` (``port=0`` picks a free one).

    ``tokens=None`` accepts any bearer token as the ``"default"`` account; a mapping
    ``{token: account}`` answers 401 to any other. The seed catalogue's private images belong
    to ``seed_account`` (default ``"default"``). ``steps``: GETs of a new custom image (or of
    an in-progress action) it takes to finish; the ``steps``-th GET answers the final state.
    An import whose ``url`` contains ``"fail"`` ends ``status: "deleted"`` with an
    ``error_message``; ``fail_next_action()`` makes the next action end ``errored``.
    Accounts have a deterministic team uuid and email: ``account_uuid(name)``,
    ``account_email(name)`` (``"{name}@example.com"``); ``owner(image_id)`` names the holder.
    ``request_log_size=N`` keeps only the newest N entries of ``requests`` (default: all).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: bool = True,
        rate_limits: Iterable[RateWindow | tuple[int, float]] = DIGITALOCEAN_LIMITS,
        tokens: Mapping[str, str] | None = None,
        latency: float = 0.0,
        steps: int = 1,
        random_seed: int | None = 0,
        seed_account: str | None = None,
        request_log_size: int | None = None,
    ) -> None:
        if request_log_size is not None and request_log_size < 1:
            raise ValueError(f"request_log_size must be 1 or more, not {request_log_size}")
        if latency < 0:
            raise ValueError("latency must be >= 0")
        if steps < 0:
            raise ValueError("steps must be >= 0")
        self._host = host
        self._port = port
        self._store = Store(steps=steps)
        self._store.account_uuid(DEFAULT_ACCOUNT)
        for account in (tokens or {}).values():
            self._store.account_uuid(account)
        self._ctx = Context(
            store=self._store,
            limiter=RateLimiter(rate_limits),
            faults=FaultPlan(random_seed),
            tokens=dict(tokens) if tokens is not None else None,
            latency=latency,
            requests=deque(maxlen=request_log_size),
        )
        self._runner: web.AppRunner | None = None
        self._url: URL | None = None
        if seed:
            for kind, fields in public_catalogue():
                self._store.add(kind, None, fields)
            for kind, fields in private_catalogue():
                self._store.add(kind, seed_account or DEFAULT_ACCOUNT, fields)

    # -- lifetime -----------------------------------------------------------------------------

    @property
    def url(self) -> URL:
        """The base URL to give a client, e.g. ``URL("http://127.0.0.1:41234")``."""
        if self._url is None:
            raise RuntimeError("the emulator is not started: await start() or use `async with`")
        return self._url

    def make_app(self) -> web.Application:
        """A fresh aiohttp application serving this emulator's state (for aiohttp's test tools)."""
        return build_app(self._ctx)

    async def start(self) -> None:
        """Bind and start serving."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._url = URL.build(scheme="http", host=host, port=port)

    async def close(self) -> None:
        """Stop serving (idempotent); state stays readable."""
        runner, self._runner, self._url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- request log --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order (a copy): with ``request_log_size=N``, only
        the newest N."""
        return list(self._ctx.requests)

    def clear_requests(self) -> None:
        """Forget the request log."""
        self._ctx.requests.clear()

    # -- state --------------------------------------------------------------------------------

    def add_image(
        self, *, kind: ImageKind = "distribution", account: str | None = None, **fields: object
    ) -> Image:
        """Store one image and return it as a client reads it (``.id`` is its new id).

        ``kind`` is distribution/application (public) or snapshot/backup/custom (private to
        ``account``, default ``"default"``). ``fields`` are JSON values that override the
        generated ones (e.g. ``name="web-01"``, ``created_at="2024-11-02T08:15:00Z"``); an
        image is created now unless ``created_at`` says otherwise. To serve a field the API
        never would (a client's decode error), add the image, then `set_image` the field."""
        return _decoded(self._store.add(kind, account, fields))

    def add_images(
        self,
        count: int,
        *,
        kind: ImageKind = "distribution",
        account: str | None = None,
        **fields: object,
    ) -> list[Image]:
        """Store ``count`` images like `add_image`: consecutive ids, listed in that order, the
        last created now and each one a second after the one before."""
        ids = self._store.add_many(count, kind, account, fields)
        return [_decoded(self._store.images[i].data) for i in ids]

    def image(self, image_id: int) -> Image | None:
        """The stored image as a client reads it now (None if deleted or unknown)."""
        data = self._store.snapshot(image_id)
        return None if data is None else _decoded(data)

    def image_json(self, image_id: int) -> dict[str, object] | None:
        """The JSON object the emulator serves for the image now, exactly (None if deleted or
        unknown): for tests of how a client decodes it."""
        return self._store.snapshot(image_id)

    def set_image(self, image_id: int, **fields: object) -> None:
        """Force fields of a stored image (forcing ``status`` ends a running import)."""
        self._store.force(image_id, fields)

    def fail_next_action(self, message: str = "The action failed.") -> None:
        """Make the next image action created end ``errored`` (the message is kept internally;
        DigitalOcean's action object has no field for it)."""
        self._store.fail_next_action(message)

    def account_uuid(self, account: str = DEFAULT_ACCOUNT) -> str:
        """The team uuid of ``account`` (deterministic; makes the account known for transfers)."""
        return self._store.account_uuid(account)

    def account_email(self, account: str = DEFAULT_ACCOUNT) -> str:
        """The email of ``account``: ``{account}@example.com``."""
        return self._store.account_email(account)

    def owner(self, image_id: int) -> str | None:
        """The account owning a private image (None for public or unknown images)."""
        img = self._store.images.get(image_id)
        return None if img is None else img.account

    # -- faults -------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        """Arm ``fault`` for the next matching request(s); returns it."""
        self._ctx.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Disarm every injected fault."""
        self._ctx.faults.clear()

    @property
    def faults_served(self) -> int:
        """How many faults were actually applied to requests."""
        return self._ctx.faults.served


def _decoded(data: Mapping[str, object]) -> Image:
    """`data` as a client decodes it from an answer (the SDK's own decoder)."""
    return decode_one(msgspec.json.encode({"image": data}), "image", Image, status=200)
