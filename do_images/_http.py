"""One attempt, and the only code that touches aiohttp: the session's lifetime, URL, headers,
send, and the bounded read of the answer -> `Response(status, headers, body)` or `NoAnswer`.
"""

from __future__ import annotations

import asyncio
import logging
import platform
from collections.abc import Mapping
from contextvars import ContextVar
from types import SimpleNamespace

import aiohttp
import attrs
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from yarl import URL

from ._errors import APIConnectionError, ClientClosedError, DigitalOceanError, ResponseDecodeError
from ._version import __version__

logger = logging.getLogger("do_images")

USER_AGENT = (
    f"do-images/{__version__} aiohttp/{aiohttp.__version__} Python/{platform.python_version()}"
)
Params = Mapping[str, str | int]
# How many paths' URLs one client keeps built (paths with ids are many, listings' few), and
# how many connect timeouts' aiohttp limits are kept.
_KEPT_URLS = 64
# aiohttp's limits per connect timeout: the attempt's own timer bounds the rest (see send).
_LIMITS: dict[float, aiohttp.ClientTimeout] = {}


class Response:
    """A fully read answer: status, headers and body bytes. Pages fetched ahead wait as these
    compact bytes and are decoded only when their turn comes."""

    __slots__ = ("body", "headers", "sends", "status")

    def __init__(
        self, status: int, body: bytes, headers: Mapping[str, str] | None = None, sends: int = 1
    ) -> None:
        self.status = status
        self.body = body
        self.headers: Mapping[str, str] = {} if headers is None else headers
        self.sends = sends
        """How often aiohttp sent the request's headers (it re-sends an idempotent request
        by itself once when a pooled connection drops)."""


@attrs.frozen
class NoAnswer:
    """An attempt that got no answer: the error to report, and whether the request left."""

    error: DigitalOceanError
    sends: int
    """How often the request's headers were sent; 0 means the server never saw it, so even
    a POST may be sent again."""


class _Attempt:
    """What one attempt learns from aiohttp: how often it was sent, and when it got a
    connection, which starts its timer. Time queued for a pooled connection is not the
    server's time, so it is not counted. The SDK's own sessions tell it from their connector
    (_Connector); a caller's session, from trace hooks (passed as aiohttp's trace_request_ctx).
    """

    __slots__ = ("sends", "timeout", "timer")

    def __init__(self, timeout: float) -> None:
        self.sends = 0
        self.timeout = timeout
        self.timer: asyncio.Timeout | None = None

    def connected(self) -> None:
        timer = self.timer
        if timer is None:
            return
        until = asyncio.get_running_loop().time() + self.timeout
        when = timer.when()
        timer.reschedule(until if when is None else min(when, until))


async def _on_connection(session: object, context: SimpleNamespace, params: object) -> None:
    attempt = context.trace_request_ctx
    if isinstance(attempt, _Attempt):
        attempt.connected()


async def _on_headers_sent(session: object, context: SimpleNamespace, params: object) -> None:
    attempt = context.trace_request_ctx
    if isinstance(attempt, _Attempt):
        attempt.sends += 1


# The attempt this task is making, for the SDK's own connector.
_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("do_images_attempt", default=None)


class _Connector(aiohttp.TCPConnector):
    """The SDK's own sessions' connector: it tells the task's attempt that it has its
    connection. Trace hooks tell the same for a caller's session, but aiohttp then builds
    trace events at every step of every request: about a tenth more CPU (measured)."""

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        attempt = _ATTEMPT.get()
        if attempt is not None:
            # Counted as sent once it has a connection: for a POST, the safe side.
            attempt.sends += 1
            attempt.connected()
        return connection


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_reuseconn.append(_on_connection)
    config.on_connection_create_start.append(_on_connection)
    config.on_request_headers_sent.append(_on_headers_sent)
    config.freeze()
    return config


# One config for every caller's session; it acts only on requests that carry an _Attempt.
_TRACE = _trace_config()


def sdk_session(*, trust_env: bool, limit: int = 100) -> aiohttp.ClientSession:
    """A session the SDK makes for itself: no cookies, the attempt's connector, `limit`
    connections."""
    return aiohttp.ClientSession(
        connector=_Connector(limit=limit),
        # The API sets no cookie that matters, and replaying one would be a surprise.
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=trust_env,
    )


class Http:
    """Sends one request at a time for one client; owns its aiohttp session unless given one."""

    def __init__(
        self,
        *,
        base_url: URL,
        token: str,
        session: aiohttp.ClientSession | None,
        trust_env: bool,
        max_response_bytes: int,
    ) -> None:
        self.base_url = base_url
        self._headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self._session = session
        self._owns_session = session is None
        self._trust_env = trust_env
        self._max_response_bytes = max_response_bytes
        self._loop: asyncio.AbstractEventLoop | None = None
        # The URLs of paths asked before (a listing asks the same one for every page).
        self._urls: dict[tuple[str | int, ...], URL] = {}
        self.closed: bool = False
        """Set by close(): later attempts raise ClientClosedError."""

    def __repr__(self) -> str:
        return f"<Http {self.base_url}>"

    def for_token(self, token: str, session: aiohttp.ClientSession | None) -> Http:
        """An Http like this one for another token, on `session` (crawl's accounts); they
        share the URLs built."""
        sibling = Http(
            base_url=self.base_url,
            token=token,
            session=session,
            trust_env=self._trust_env,
            max_response_bytes=self._max_response_bytes,
        )
        sibling._urls = self._urls
        return sibling

    async def close(self) -> None:
        """Refuse later attempts; close the session if this client made it."""
        self.closed = True
        session, self._session = self._session, None
        if self._owns_session and session is not None:
            await session.close()

    def _open_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ClientClosedError("the client is closed; create a new do_images.Client")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop and self._owns_session:
            # aiohttp sessions belong to the loop that made them; using one from another
            # fails deep inside aiohttp, so say so plainly instead.
            raise RuntimeError(
                "this do_images.Client was first used on another event loop;"
                " create one Client per event loop"
            )
        session = self._session
        if session is None:
            session = self._session = sdk_session(trust_env=self._trust_env)
        elif not isinstance(session.connector, _Connector) and _TRACE not in session.trace_configs:
            # A caller's session: the hooks act only on the SDK's own requests.
            session.trace_configs.append(_TRACE)
        return session

    async def send(
        self,
        method: str,
        segments: tuple[str | int, ...],
        *,
        params: Params | None,
        body: bytes | None,
        timeout: float,
        connect_timeout: float | None,
        remaining: float | None,
    ) -> Response | NoAnswer:
        """One HTTP exchange, read whole: the answer, or why there was none.

        `timeout` starts when the request has a connection (time queued for a pooled one is not
        counted); `connect_timeout` bounds connecting; `remaining` (the caller's deadline)
        bounds everything, the queue included.
        """
        session = self._open_session()
        url = self._url(segments)
        headers = self._headers
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        where = f"{method} {url.path}"
        attempt = _Attempt(timeout)
        until = None if remaining is None else asyncio.get_running_loop().time() + remaining
        # Connecting is bounded by `connect_timeout`, else by `timeout` (the attempt's timer
        # starts once it has its connection).
        connecting = timeout if connect_timeout is None else connect_timeout
        limits = _LIMITS.get(connecting)
        if limits is None:
            limits = aiohttp.ClientTimeout(total=None, sock_connect=connecting)
            if len(_LIMITS) < _KEPT_URLS:  # a few timeouts are usual; any number is allowed
                _LIMITS[connecting] = limits
        current = _ATTEMPT.set(attempt)
        try:
            async with asyncio.timeout_at(until) as t:
                attempt.timer = t
                # Redirects are not followed: the API never redirects, and following one could
                # carry the bearer token to another host. raise_for_status=False: a caller's
                # session may default to True, and the SDK maps every status itself.
                async with session.request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=limits,
                    allow_redirects=False,
                    raise_for_status=False,
                    trace_request_ctx=attempt,
                ) as answer:
                    status, answer_headers = answer.status, answer.headers
                    content = await self._read(answer, where)
        except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
            if self.closed:
                error: DigitalOceanError = ClientClosedError(
                    f"{where}: the client was closed while the call ran"
                )
                return NoAnswer(error, attempt.sends)
            if isinstance(exc, RuntimeError):
                raise
            logger.debug("%s failed: %s", where, type(exc).__name__)
            return NoAnswer(_connection_error(exc, method, url), attempt.sends)
        finally:
            _ATTEMPT.reset(current)
        logger.debug("%s -> %d", where, status)
        return Response(status, content, answer_headers, attempt.sends)

    def _url(self, segments: tuple[str | int, ...]) -> URL:
        url = self._urls.get(segments)
        if url is None:
            url = self.base_url.joinpath(*(str(segment) for segment in segments))
            if len(self._urls) < _KEPT_URLS:
                self._urls[segments] = url
        return url

    async def _read(self, answer: aiohttp.ClientResponse, where: str) -> bytes:
        """The whole body, after decompression, or ResponseDecodeError past the bound."""
        limit = self._max_response_bytes
        declared = answer.content_length
        if declared is not None and not answer.headers.get("Content-Encoding"):
            if declared > limit:
                raise _too_large(where, answer.status, limit)
            return await answer.read()  # the parser stops at the declared length
        chunks: list[bytes] = []
        size = 0
        # aiohttp inflates a compressed body a bounded piece at a time, so counting what
        # comes out here also bounds a decompression bomb.
        async for chunk in answer.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                raise _too_large(where, answer.status, limit)
            chunks.append(chunk)
        return b"".join(chunks)


def _too_large(where: str, status: int, limit: int) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"{where}: the answer is larger than max_response_bytes ({limit:,} bytes)", status=status
    )


def _connection_error(exc: BaseException, method: str, url: URL) -> APIConnectionError:
    if isinstance(exc, TimeoutError):
        message = f"{method} {url.path} timed out"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        # aiohttp's own text says "ssl:default" even for plain http; name what was tried.
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        message = (
            f"{method} {url.path}: cannot connect to {url.scheme}://{exc.host}:{exc.port}: {reason}"
        )
    else:
        message = f"{method} {url.path} failed: {type(exc).__name__}: {exc}"
    # aiohttp's ClientResponseError carries the request headers (the token) in its repr.
    cause = None if isinstance(exc, aiohttp.ClientResponseError) else exc
    return APIConnectionError(message, cause)
