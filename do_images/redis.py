"""The Redis-backed rate limiter: one token's sliding windows and pauses shared by every process
and machine that uses the token (the extra ``do-images[redis]``; ``import do_images`` never
imports ``redis``).

How it works, and why:

- **One clock.** Every decision is made inside a Lua script that reads ``TIME`` from Redis, so
  hosts whose clocks disagree still agree on when a window frees.
- **Held until the answer, then counted for the window.** Per token (its fingerprint, never
  the token) a sorted set holds the slots let go and not yet answered (scored by when they
  left), and one sorted set per window holds when each answer came back. A request may go
  when, in every window, held slots plus answers within the window leave room, and no pause
  is on; the script then adds it to the held set, atomically. ``answered`` moves the oldest
  held slot to the windows, stamped with the answer's time. DigitalOcean counts a request
  when it arrives, which is before its answer: so no window of the server's ever holds more
  than the limit, however late a busy host sends or how long a request travels.
- **Waiting.** When there is no room the script says when there will be: a known moment
  (an answer leaving the window, a pause ending) or, while the windows are full of held
  slots, a lower bound (now plus the window: a slot answered now still counts that long).
  The caller sleeps until then and asks again, taking nothing meanwhile; if the moment is
  further away than it may wait, it gives up at once.
- **Processes that die.** A held slot not answered within ``max_hold`` seconds counts as
  answered then (it goes to the windows, stamped ``max_hold`` after it left). ``max_hold``
  must exceed any attempt's timeout. ``answered`` frees the oldest held slot, so those left
  held free no sooner than the requests really in flight.
- **Pauses** (a 429, or an answer saying none remain) are one key per token holding the Redis
  time until which nothing goes; they only ever extend and last at most ``MAX_PAUSE``. A stored
  value that is not a number, or further away than ``MAX_PAUSE``, is repaired (dropped or
  clamped), never trusted; so is a key of the wrong type (someone else's data).
- **Forgetting.** Answers older than their window are pruned on every call, and every key of a
  token expires ``max_hold`` plus the longest window after its last use: an idle token leaves
  nothing behind.
- **Keys lost** (a restart, an eviction, ``FLUSHDB``): each process remembers what it let go
  (its in-process governor counts the same slots), and refills Redis with it the first time it
  finds its mark missing from the token's ``seen`` set, so the windows never restart empty.
- **Redis failing** (unreachable, slow past ``timeout``, READONLY after a failover, OOM, any
  error): the limiter keeps to in-process limits (the ``Governor``, same windows, already up
  to date) with one WARNING per outage; Redis is asked again a second later, and an INFO line
  says when it answers again.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import math
import secrets
from collections.abc import Awaitable, Sequence
from typing import TypeVar, cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from ._clock import SYSTEM_CLOCK, Clock
from ._crawl import CrawlProgress
from ._governor import MAX_HOLD, Governor, announce_wait, valid_pause
from ._windows import DIGITALOCEAN_LIMITS, MAX_PAUSE, RateWindow, rate_windows

__all__ = ["DIGITALOCEAN_LIMITS", "RedisCheckpoints", "RedisRateLimiter"]

logger: logging.Logger = logging.getLogger("do_images")

# After Redis fails, how long each process keeps to its own limits before trying Redis again.
RETRY_REDIS_AFTER = 1.0

# What every script starts with. Times are microseconds of Redis's clock. KEYS[1]: the pause,
# KEYS[2]: held slots, KEYS[3]: the processes that filled in what they let go, KEYS[4..]: one
# set of answers per window. ARGV[1]: max_hold (us), ARGV[2]: the keys' expiry (ms), ARGV[3]:
# the longest pause (us). A key of another type than ours is someone else's data: dropped.
_PRELUDE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local max_hold, expiry, max_pause = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held_key, seen_key = KEYS[2], KEYS[3]
local windows = #KEYS - 3
local function own(key, kind)
  local found = redis.call('TYPE', key)['ok']
  if found ~= kind and found ~= 'none' then redis.call('DEL', key) end
end
local function paused_until()
  own(KEYS[1], 'string')
  local stored = redis.call('GET', KEYS[1])
  if not stored then return 0 end
  local till = tonumber(stored)
  if till == nil or till ~= till or till == math.huge or till == -math.huge then
    redis.call('DEL', KEYS[1])  -- not a time: never trusted
    return 0
  end
  if till > now + max_pause or redis.call('PTTL', KEYS[1]) < 0 then
    till = math.min(till, now + max_pause)  -- longer than any pause may be: clamped
    redis.call('SET', KEYS[1], string.format('%.0f', till), 'PX',
               math.max(1, math.ceil((till - now) / 1000)))
  end
  return till
end
local function touch()
  for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], expiry) end
end
"""

# ARGV[4]: this request's member; ARGV[5]: this process's mark; ARGV[6]: "1" when what this
# process let go follows; ARGV[7]: how many held slots of it follow; ARGV[8..]: per window, its
# limit and its length (us); then the process's held slots' ages and answers' ages (us).
# Answers {1, 0, 1}: taken; {0, wait, certain}: not now, room in `wait` us at the earliest
# (certain = 0: a lower bound, as it depends on answers still to come); {2, 0, 0}: Redis does
# not know this process (its keys were lost): ask again with what it let go.
_ACQUIRE = (
    _PRELUDE
    + """
local member, mark = ARGV[4], ARGV[5]
local function limit(i) return tonumber(ARGV[6 + 2 * i]) end
local function length(i) return tonumber(ARGV[7 + 2 * i]) end
own(held_key, 'zset')
own(seen_key, 'set')
for i = 1, windows do own(KEYS[i + 3], 'zset') end
if redis.call('SISMEMBER', seen_key, mark) == 0 then
  if ARGV[6] ~= '1' then return {2, 0, 0} end
  local first, held = 8 + 2 * windows, tonumber(ARGV[7])
  for j = first, #ARGV do
    local name = mark .. ':refill:' .. now .. ':' .. j
    local at = now - tonumber(ARGV[j])
    if j < first + held then
      redis.call('ZADD', held_key, string.format('%.0f', at), name)
    else
      for i = 1, windows do redis.call('ZADD', KEYS[i + 3], string.format('%.0f', at), name) end
    end
  end
  redis.call('SADD', seen_key, mark)
end
-- Slots held past max_hold count as answered then; times far in the future are not ours.
local stale = redis.call('ZRANGEBYSCORE', held_key, '-inf', now - max_hold, 'WITHSCORES')
for j = 1, #stale, 2 do
  local at = string.format('%.0f', tonumber(stale[j + 1]) + max_hold)
  for i = 1, windows do redis.call('ZADD', KEYS[i + 3], at, stale[j]) end
end
redis.call('ZREMRANGEBYSCORE', held_key, '-inf', now - max_hold)
redis.call('ZREMRANGEBYSCORE', held_key, now + max_hold, '+inf')
local held = redis.call('ZCARD', held_key)
local free, certain = math.max(now, paused_until()), 1
for i = 1, windows do
  local key = KEYS[i + 3]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - length(i))
  redis.call('ZREMRANGEBYSCORE', key, now + max_hold, '+inf')
  local answers = redis.call('ZCARD', key)
  local excess = held + answers - limit(i) + 1
  if excess > answers then
    free, certain = math.max(free, now + length(i)), 0
  elseif excess > 0 then
    local nth = redis.call('ZRANGE', key, excess - 1, excess - 1, 'WITHSCORES')
    free = math.max(free, tonumber(nth[2]) + length(i))
  end
end
touch()
if free > now then return {0, free - now, certain} end
redis.call('ZADD', held_key, now, member)
return {1, 0, 1}
"""
)

# The oldest held slot is answered: it counts in every window from now on. ARGV[4]: a member
# for the answer should no slot be held (the keys were lost, or it was held past max_hold);
# ARGV[5]: "1" if the slot was taken in Redis ("0": taken in process while Redis failed).
_ANSWERED = (
    _PRELUDE
    + """
own(held_key, 'zset')
local popped = {}
if ARGV[5] == '1' then popped = redis.call('ZPOPMIN', held_key) end
local member = popped[1] or ARGV[4]
for i = 1, windows do
  own(KEYS[i + 3], 'zset')
  redis.call('ZADD', KEYS[i + 3], now, member)
end
touch()
return 1
"""
)

# ARGV[4]: the pause in microseconds (at most the longest pause). A pause only ever extends.
_PAUSE = (
    _PRELUDE
    + """
local till = now + math.min(tonumber(ARGV[4]), max_pause)
if paused_until() >= till then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', till), 'PX', math.ceil((till - now) / 1000))
return 1
"""
)

_TAKEN, _NOT_NOW, _UNKNOWN_PROCESS = 1, 0, 2

# What "Redis is failing" looks like: refused or lost connections, calls slower than the
# limiter's `timeout` (redis-py's own retries included), and any error Redis answers
# (READONLY after a failover, OOM, a script that failed).
_FAILURES = (redis_errors.RedisError, asyncio.TimeoutError, OSError)


T = TypeVar("T")


async def _cancellable(call: Awaitable[T]) -> T:
    """Await a redis-py call, and raise a cancellation it swallowed.

    redis-py 8.1's asyncio client often returns normally from a command cancelled while it
    runs (measured: 605 of 3,000 HMGETs cancelled at random points), leaving the task's
    cancellation requested but never raised: a crawl or call being stopped would go on.
    ``cancelling()`` still counts such a request, so it is raised here.
    """
    task = asyncio.current_task()
    requested = task.cancelling() if task is not None else 0
    answer = await call
    if task is not None and task.cancelling() > requested:
        raise asyncio.CancelledError
    return answer


def _micros(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)


class RedisRateLimiter:
    """Rate limits kept in Redis, shared by every process and machine that uses a token.

    ``redis`` is a ``redis.asyncio.Redis``; ``limits`` are the sliding windows
    (``RateWindow``\\ s or ``(max_requests, seconds)`` pairs), DigitalOcean's by default;
    ``prefix`` starts every key; a Redis call taking longer than ``timeout`` seconds counts as
    Redis failing; a slot not answered within ``max_hold`` seconds (its process died) counts
    as answered then: keep it above the client's ``timeout``. One limiter serves any number of
    clients and tokens: all state is per key (the SDK's fingerprint of the token). Give every
    process of a fleet the same ``limits``: they are part of the key names, so processes with
    other limits keep other windows.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        limits: Sequence[RateWindow | tuple[int, float]] = DIGITALOCEAN_LIMITS,
        prefix: str = "do_images",
        timeout: float = 0.5,
        max_hold: float = MAX_HOLD,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        given: dict[str, object] = {"prefix": prefix, "timeout": timeout, "max_hold": max_hold}
        if not isinstance(given["prefix"], str) or not prefix:
            raise ValueError("prefix must be a non-empty string")
        for name in ("timeout", "max_hold"):
            value = given[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value < math.inf
            ):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self._redis = redis
        self._timeout = float(timeout)
        self._limits = rate_windows(limits, "limits")
        self._prefix = prefix
        self._clock = clock
        longest = max((w.seconds for w in self._limits), default=0.0)
        self._common: list[int] = [
            _micros(max_hold),
            math.ceil((longest + max_hold) * 1000) + 1000,
            _micros(MAX_PAUSE),
        ]
        self._window_args: list[int] = []
        for window in self._limits:
            self._window_args += [window.max_requests, _micros(window.seconds)]
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._answered_script = redis.register_script(_ANSWERED)
        self._pause_script = redis.register_script(_PAUSE)
        # The same limits in process: it counts every slot this process takes, so it is up
        # to date when Redis fails, and it refills a Redis that lost its keys.
        self._local = Governor(self._limits, clock=clock)
        # Members must be unique across the fleet: ZADD would merge two equal ones.
        self._mark = secrets.token_hex(8)
        self._serial = itertools.count()
        # Slots this process holds in Redis, per key (those taken in process while Redis
        # failed are not there to free).
        self._held_in_redis: collections.Counter[str] = collections.Counter()
        self._down_since: float | None = None
        self._retry_at = 0.0

    def __repr__(self) -> str:
        limits = ", ".join(f"{w.max_requests}/{w.seconds:g}" for w in self._limits)
        return f"<RedisRateLimiter limits=({limits}) prefix={self._prefix!r}>"

    @property
    def limits(self) -> tuple[RateWindow, ...]:
        """The windows kept."""
        return self._limits

    def keys(self, key: str) -> list[str]:
        """The Redis keys kept for ``key``: its pause, its held slots, the processes that
        filled in what they let go, then one sorted set of answers per window.

        The fingerprint sits in braces (a Redis Cluster hash tag) so one token's keys share a
        slot, as a script's keys must.
        """
        base = f"{self._prefix}:{{{key}}}"
        return [
            f"{base}:pause",
            f"{base}:held",
            f"{base}:seen",
            *(f"{base}:{w.max_requests}/{w.seconds:g}" for w in self._limits),
        ]

    @property
    def using_redis(self) -> bool:
        """False while Redis is failing and each process keeps to its own limits."""
        return self._down_since is None

    async def acquire(self, key: str, max_wait: float) -> float | None:
        """Take a slot for one request in every window of ``key``, waiting at most ``max_wait``
        seconds: None once taken, else how many seconds away the slot is at least (nothing
        taken)."""
        until = self._clock.monotonic() + max_wait
        announced = False
        while not self._resting():
            answer = await self._ask(key)
            if answer is None:
                break  # Redis failed: this process keeps to the limits on its own
            if answer <= 0:
                self._local.count_taken(key)
                self._held_in_redis[key] += 1
                return None
            if self._clock.monotonic() + answer > until:
                return answer
            if not announced:
                announce_wait(answer)
                announced = True
            await self._clock.sleep(answer)  # nothing is held meanwhile
        return await self._local.acquire(key, max(0.0, until - self._clock.monotonic()))

    async def answered(self, key: str) -> None:
        """One request of ``key`` that ``acquire`` let go has its answer: from now on it
        counts in each window for the window's length, in every process."""
        self._local.count_answer(key)
        in_redis = self._held_in_redis[key] > 0
        if in_redis:
            self._held_in_redis[key] -= 1
            if not self._held_in_redis[key]:
                del self._held_in_redis[key]
        if not self._resting():
            member = f"{self._mark}:{next(self._serial)}"
            args: list[int | str] = [*self._common, member, int(in_redis)]
            await self._run(self._answered_script, key, args)

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every request of ``key``, in every process, for ``seconds`` from now (at most
        ``MAX_PAUSE``; a non-finite or negative pause is ignored)."""
        kept = valid_pause(seconds)
        if kept is None:
            return
        # Mirrored in process, so that a pause outlives an outage that starts during it.
        await self._local.pause(key, kept)
        if not self._resting():
            await self._run(self._pause_script, key, [*self._common, _micros(kept)])

    def _resting(self) -> bool:
        """Whether Redis failed a moment ago (it is asked again once RETRY_REDIS_AFTER passed)."""
        return self._down_since is not None and self._clock.monotonic() < self._retry_at

    async def _ask(self, key: str) -> float | None:
        """Ask the script for a slot: 0 once taken, else seconds until there may be room;
        None if Redis failed."""
        member = f"{self._mark}:{next(self._serial)}"
        for refill in (False, True):
            args: list[int | str] = [*self._common, member, self._mark, int(refill), 0]
            args += self._window_args
            if refill:
                held, answers = self._local.recent(key)
                args[6] = len(held)
                args += [_micros(age) for age in (*held, *answers)]
            answer = await self._run(self._acquire_script, key, args)
            if answer is None:
                return None
            status, wait, _ = cast("list[int]", answer)
            if status != _UNKNOWN_PROCESS:
                return 0.0 if status == _TAKEN else wait / 1_000_000
        return None  # unreachable: a refill always marks the process as seen

    async def _run(self, script: AsyncScript, key: str, args: Sequence[int | str]) -> object:
        """Run `script` on `key`'s keys: its answer, or None if Redis failed."""
        try:
            answer: object = await _cancellable(
                asyncio.wait_for(script(keys=self.keys(key), args=args), self._timeout)
            )
        except _FAILURES as exc:
            self._went_down(exc)
            return None
        self._came_back()
        return answer

    def _went_down(self, exc: BaseException) -> None:
        now = self._clock.monotonic()
        self._retry_at = now + RETRY_REDIS_AFTER
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "Redis failed (%s: %s); keeping to in-process rate limits until it answers again",
                type(exc).__name__,
                exc,
                extra={"rate_limiter": "redis", "redis_available": False},
            )

    def _came_back(self) -> None:
        if self._down_since is not None:
            outage = self._clock.monotonic() - self._down_since
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
        page, done = await _cancellable(self._redis.hmget(self.key(account), ["page", "done"]))
        return CrawlProgress(int(page or 0), complete=bool(done))

    async def page_done(self, account: str, page: int) -> None:
        await _cancellable(self._page_done(keys=[self.key(account)], args=[page]))

    async def account_done(self, account: str) -> None:
        await _cancellable(self._redis.hset(self.key(account), "done", 1))
