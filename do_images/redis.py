"""The Redis-backed rate limiter: one token's sliding windows and pauses shared by every process
and machine that uses the token (the extra ``do-images[redis]``; ``import do_images`` never
imports ``redis``).

How it works, and why:

- **One clock.** Every decision is made inside a Lua script that reads ``TIME`` from Redis, so
  hosts whose clocks disagree still agree on when a window frees.
- **Atomic reservations, first come, first served.** Per token (its fingerprint, never the
  token) and per window ``(limit, seconds)`` a sorted set holds one stamp per request. The
  script finds the earliest instant ``t`` no sooner than now, the token's pause, and the
  latest stamp already reserved, at which every window has room (a window holding ``limit``
  stamps frees when its ``limit``-th most recent stamp is ``seconds`` old), adds a stamp at
  ``t`` to every window and answers ``t - now``; the caller sleeps that long and goes. Callers
  are thus served in the order they reached Redis, and nobody polls. If ``t`` is more than
  ``max_wait`` away the script takes nothing and the caller is told how far away it is.
  A script of our own rather than a library: ``limits`` keeps moving windows in Redis but
  answers only "now or not", one window at a time, leaving the waiting to polling;
  ``redis-rate-limiters`` queues its callers, but in a token bucket, which lets up to twice
  the limit through in one window where DigitalOcean counts sliding windows. Neither shares
  a 429's pause.
- **Pauses** (a 429, or an answer saying none remain) are one key per token holding the Redis
  time until which nothing goes; they only ever extend.
- **Stamped when it leaves.** A caller woken for its reservation asks the script again before
  it goes. If a pause arrived meanwhile, it queues again behind the pause. Otherwise its stamp
  moves to the moment it really leaves, and it goes only if the windows, as they now stand,
  have room: a caller on a busy host that woke late pushes back those reserved after it
  instead of crowding them.
- **Travel slack.** The API counts a request when it arrives; each window is kept longer than
  the API's by the in-process governor's margin (2%, at most 0.5 s) and at least
  ``TRAVEL_SLACK`` (0.15 s), since requests from several hosts, some on cold connections,
  travel for different times.
- **Bounded memory.** Stamps older than their window are pruned on every call, and every key
  expires (``PEXPIRE``) a second after its last stamp leaves the window, so an idle token
  leaves nothing behind.
- **Redis down.** A connection error, or a call slower than ``timeout``, switches the limiter
  to in-process limits (the ``Governor``, same windows, per token; it also counts the requests
  Redis let through, so it starts up to date) with one WARNING per outage; Redis is asked
  again a second later, and an INFO line says when it answers again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
import time
from collections.abc import Sequence
from typing import cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from ._crawl import CrawlProgress
from ._governor import Governor, announce_wait, with_margin

__all__ = ["DIGITALOCEAN_LIMITS", "RedisCheckpoints", "RedisRateLimiter"]

logger = logging.getLogger("do_images")

DIGITALOCEAN_LIMITS: tuple[tuple[int, float], ...] = ((250, 60.0), (5000, 3600.0))

# Keys live a little past their last stamp's window, so a slow caller never finds them gone.
_EXPIRY_MARGIN_MS = 1000
# The least slack on each window for a request's trip to the API (the API counts a request
# when it arrives, the limiter when it leaves). Requests from several processes and machines
# travel differently: a cold connection or a busy host adds tens of milliseconds to some, more
# than a short window's 2%. DigitalOcean's own windows get 0.5 s either way.
TRAVEL_SLACK = 0.15
# After Redis fails, how long each process keeps to its own limits before trying Redis again.
RETRY_REDIS_AFTER = 1.0

# KEYS[1]: the token's pause key; KEYS[2..]: one sorted set of stamps per window.
# ARGV[1]: this request's member; ARGV[2]: the longest acceptable wait in microseconds (-1: no
# bound); ARGV[3]: "1" to re-check a reservation held by ARGV[1]; then per window, in KEYS
# order: its limit and its length in microseconds; last, the keys' expiry margin in
# milliseconds. Times are microseconds of Redis's clock.
# Answers {2, wait}: reserved, go in `wait` microseconds; {1, wait}: re-checked, go in `wait`
# (0: now); {0, wait}: the slot is `wait` away, more than allowed, and nothing is held.
_ACQUIRE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local member = ARGV[1]
local max_wait = tonumber(ARGV[2])
local margin = tonumber(ARGV[#ARGV])
local stored = redis.call('GET', KEYS[1])
local paused = stored and tonumber(stored) or 0
local windows = #KEYS - 1
local function limit(i) return tonumber(ARGV[2 + 2 * i]) end
local function length(i) return tonumber(ARGV[3 + 2 * i]) end
local status, t = 2, math.max(now, paused)
local held = windows == 0 or redis.call('ZSCORE', KEYS[2], member)
if ARGV[3] == '1' and held and paused <= now then
  -- About to go: check the windows as they stand now, this request's own stamp aside.
  -- Requests stamped before it may have left later than their stamps (a busy process
  -- wakes late), so their stamps moved to when they really left.
  status = 1
  if windows > 0 then t = math.max(t, tonumber(held)) end  -- woken a moment early
  for i = 1, windows do
    redis.call('ZREM', KEYS[i + 1], member)
    local nth = redis.call('ZREVRANGEBYSCORE', KEYS[i + 1], now, '-inf', 'WITHSCORES',
                           'LIMIT', limit(i) - 1, 1)
    if nth[2] then t = math.max(t, tonumber(nth[2]) + length(i)) end
  end
else
  -- A new request, or one that a pause (or a restarted Redis) overtook: to the back.
  for i = 1, windows do
    local key = KEYS[i + 1]
    redis.call('ZREM', key, member)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - length(i))
    -- First come, first served: never ahead of a stamp already reserved.
    local last = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
    if last[2] then t = math.max(t, tonumber(last[2])) end
    if redis.call('ZCARD', key) >= limit(i) then
      local nth = redis.call('ZREVRANGE', key, limit(i) - 1, limit(i) - 1, 'WITHSCORES')
      t = math.max(t, tonumber(nth[2]) + length(i))
    end
  end
end
local wait = t - now
if max_wait >= 0 and wait > max_wait then return {0, wait} end
for i = 1, windows do
  local key = KEYS[i + 1]
  redis.call('ZADD', key, string.format('%.0f', t), member)
  -- Expire when the last stamp has left the window (only ever extended: the key may hold
  -- stamps later than this one).
  local ttl = math.ceil((wait + length(i)) / 1000) + margin
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return {status, wait}
"""

# KEYS[1]: the token's pause key; ARGV[1]: the pause in microseconds; ARGV[2]: expiry margin
# in milliseconds. A pause only ever extends.
_PAUSE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local stamp = now + tonumber(ARGV[1])
local stored = redis.call('GET', KEYS[1])
if stored and tonumber(stored) >= stamp then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', stamp), 'PX',
           math.ceil((stamp - now) / 1000) + tonumber(ARGV[2]))
return 1
"""

_REFUSED, _HELD, _RESERVED = 0, 1, 2

# What "Redis is unreachable" looks like: refused or lost connections, and calls that take
# longer than the limiter's `timeout` (redis-py's own retries included).
_UNAVAILABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    asyncio.TimeoutError,
    OSError,
)


def _check_limits(limits: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    windows = tuple(limits)
    for window in windows:
        if (
            not isinstance(window, (tuple, list))
            or len(window) != 2
            or isinstance(window[0], bool)
            or not isinstance(window[0], int)
            or window[0] < 1
            or isinstance(window[1], bool)
            or not isinstance(window[1], (int, float))
            or not 0 < window[1] < math.inf
        ):
            raise ValueError(
                f"limits must hold (max_requests >= 1, seconds > 0) pairs, got {window!r}"
            )
    return tuple((int(limit), float(seconds)) for limit, seconds in windows)


def kept_windows(limits: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """The windows as the limiter keeps them: each a little longer than the API's (the
    in-process governor's margin, and at least TRAVEL_SLACK)."""
    return tuple(
        (limit, max(margined, seconds + TRAVEL_SLACK))
        for (limit, seconds), (_, margined) in zip(limits, with_margin(limits), strict=True)
    )


def _micros(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)


class RedisRateLimiter:
    """Rate limits kept in Redis, shared by every process and machine that uses a token.

    ``redis`` is a ``redis.asyncio.Redis``; ``limits`` are the sliding windows as
    ``(max_requests, seconds)`` pairs, DigitalOcean's by default; ``prefix`` starts every key; a
    Redis call taking longer than ``timeout`` seconds counts as Redis being unreachable. One
    limiter serves any number of clients and tokens: all state is per key (the SDK's
    fingerprint of the token). Give every process of a fleet the same ``limits``: they are part
    of the key names, so processes with other limits keep other windows.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        limits: Sequence[tuple[int, float]] = DIGITALOCEAN_LIMITS,
        prefix: str = "do_images",
        timeout: float = 0.5,
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("prefix must be a non-empty string")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._redis = redis
        self._timeout = float(timeout)
        self._limits = _check_limits(limits)
        self._prefix = prefix
        self._window_args: list[int] = []
        for limit, seconds in kept_windows(self._limits):
            self._window_args += [limit, _micros(seconds)]
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._pause_script = redis.register_script(_PAUSE)
        # The same limits in process, kept up to date while Redis answers, used while it does not.
        self._local = Governor(self._limits)
        # Members must be unique across the fleet: ZADD would merge two equal ones.
        self._nonce = secrets.token_hex(8)
        self._serial = itertools.count()
        self._down_since: float | None = None
        self._retry_at = 0.0

    def __repr__(self) -> str:
        return f"<RedisRateLimiter limits={self._limits!r} prefix={self._prefix!r}>"

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows kept, as ``(max_requests, seconds)`` pairs."""
        return self._limits

    def keys(self, key: str) -> list[str]:
        """The Redis keys kept for ``key``: its pause, then one sorted set per window.

        The fingerprint sits in braces (a Redis Cluster hash tag) so one token's keys share a
        slot, as a script's keys must.
        """
        base = f"{self._prefix}:{{{key}}}"
        return [
            f"{base}:pause",
            *(f"{base}:{limit}/{seconds:g}" for limit, seconds in self._limits),
        ]

    @property
    def using_redis(self) -> bool:
        """False while Redis is unreachable and each process keeps to its own limits."""
        return self._down_since is None

    async def acquire(self, key: str, max_wait: float) -> float | None:
        """Take a slot for one request in every window of ``key``, waiting at most ``max_wait``
        seconds: None once taken, else how many seconds away the slot is (nothing taken)."""
        if self._resting():
            return await self._local.acquire(key, max_wait)
        member = f"{self._nonce}:{next(self._serial)}"
        started = time.monotonic()
        answer = await self._call_acquire(key, member, max_wait, recheck=False)
        while answer is not None:
            status, wait = answer
            if status == _REFUSED:
                return wait
            if wait <= 0:
                # Count it in this process's own windows too (never waiting, taking nothing if
                # they are full), so an outage that starts now finds them up to date.
                await self._local.acquire(key, 0.0)
                return None
            if status == _RESERVED:  # not the last microseconds of a wait already announced
                announce_wait(wait)
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                # A prefetched page abandoned mid-wait: give its slot back to the fleet.
                await self._release(key, member)
                raise
            # A 429 elsewhere may have paused the token while this request slept.
            budget = max(0.0, max_wait - (time.monotonic() - started))
            answer = await self._call_acquire(key, member, budget, recheck=True)
        # Redis is unreachable: this process keeps to the limits on its own.
        return await self._local.acquire(key, max(0.0, max_wait - (time.monotonic() - started)))

    async def answered(self, key: str) -> None:
        # Placeholder until slots are held until the answer (issue 19).
        return None

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every request of ``key``, in every process, for ``seconds`` from now."""
        # Mirrored in process, so that a pause outlives an outage that starts during it.
        await self._local.pause(key, seconds)
        if self._resting():
            return
        args = [_micros(seconds), _EXPIRY_MARGIN_MS]
        try:
            await asyncio.wait_for(
                self._pause_script(keys=self.keys(key)[:1], args=args), self._timeout
            )
        except _UNAVAILABLE as exc:
            self._went_down(exc)
        else:
            self._came_back()

    def _resting(self) -> bool:
        """Whether Redis failed a moment ago (it is asked again once RETRY_REDIS_AFTER passed)."""
        return self._down_since is not None and time.monotonic() < self._retry_at

    async def _call_acquire(
        self, key: str, member: str, max_wait: float, *, recheck: bool
    ) -> tuple[int, float] | None:
        bound = -1 if math.isinf(max_wait) else _micros(max(0.0, max_wait))
        args: list[str | int] = [member, bound, int(recheck), *self._window_args]
        args.append(_EXPIRY_MARGIN_MS)
        try:
            status, wait = await asyncio.wait_for(
                self._acquire_script(keys=self.keys(key), args=args), self._timeout
            )
        except _UNAVAILABLE as exc:
            self._went_down(exc)
            return None
        self._came_back()
        return int(status), int(wait) / 1_000_000

    async def _release(self, key: str, member: str) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for window in self.keys(key)[1:]:
                    pipe.zrem(window, member)
                await asyncio.wait_for(pipe.execute(), self._timeout)
        except _UNAVAILABLE:
            pass  # the stamp expires with its window

    def _went_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + RETRY_REDIS_AFTER
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "Redis is unreachable (%s: %s); keeping to in-process rate limits until it "
                "answers again",
                type(exc).__name__,
                exc,
                extra={"rate_limiter": "redis", "redis_available": False},
            )

    def _came_back(self) -> None:
        if self._down_since is not None:
            outage = time.monotonic() - self._down_since
            self._down_since = None
            logger.info(
                "Redis answers again after %.1f s; rate limits are shared again",
                outage,
                extra={"rate_limiter": "redis", "redis_available": True},
            )


# --- Crawl checkpoints ---------------------------------------------------------------------

# KEYS[1]: the account's hash; ARGV[1]: a page the consumer finished. Progress never goes
# back, even if two workers ever walk the same account at once.
_PAGE_DONE = """
local done = tonumber(redis.call('HGET', KEYS[1], 'page') or '0')
if tonumber(ARGV[1]) > done then redis.call('HSET', KEYS[1], 'page', ARGV[1]) end
return 0
"""


class RedisCheckpoints:
    """`do_images.crawl` checkpoints kept in Redis: a crawl re-run on any process or machine
    with the same Redis and `prefix` resumes where the last one stopped.

    One hash per account, ``{prefix}:crawl:{account}``, with the last finished page
    (``page``) and ``done`` once the account is complete. Keyed by the account's *name* (the
    key of the mapping given to `crawl`), never its token: names are labels the caller chose,
    and readable keys let an operator inspect or reset one account (``DEL`` its key). Keys do
    not expire: delete them (or use another `prefix`) to crawl everything again.
    """

    def __init__(self, redis: Redis, *, prefix: str = "do_images") -> None:
        if not isinstance(cast(object, prefix), str) or not prefix:
            raise ValueError("prefix must be a non-empty string")
        self._redis = redis
        self._prefix = prefix
        self._page_done = redis.register_script(_PAGE_DONE)

    def __repr__(self) -> str:
        return f"<RedisCheckpoints prefix={self._prefix!r}>"

    def key(self, account: str) -> str:
        """The Redis key holding `account`'s progress."""
        return f"{self._prefix}:crawl:{account}"

    async def load(self, account: str) -> CrawlProgress:
        page, done = await self._redis.hmget(self.key(account), ["page", "done"])
        return CrawlProgress(int(page or 0), complete=bool(done))

    async def page_done(self, account: str, page: int) -> None:
        await self._page_done(keys=[self.key(account)], args=[page])

    async def account_done(self, account: str) -> None:
        await self._redis.hset(self.key(account), "done", 1)
