"""Token-bucket rate limits per caller and route class, in memory or shared through Redis.

In memory suits the embedded shape (one process). With ``RUTA_REDIS_URL`` the buckets live
in Redis, updated atomically by a Lua script on Redis's own clock, so several gateway
replicas share one limit. If Redis stops answering the gateway falls back to its own memory
for that request rather than refusing everybody.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

log = structlog.get_logger("ruta.ratelimit")


@dataclass(frozen=True, slots=True)
class Quota:
    name: str
    capacity: int           # requests allowed in a burst
    window_seconds: float   # time to refill the whole bucket

    @property
    def rate(self) -> float:
        return self.capacity / self.window_seconds


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    reset_seconds: int      # until the bucket is full again
    retry_after: int        # until one request is allowed (0 when allowed)

    def headers(self, quota: Quota) -> list[tuple[bytes, bytes]]:
        h = [
            (b"ratelimit-policy",
             f'"{quota.name}";q={quota.capacity};w={int(quota.window_seconds)}'.encode()),
            (b"ratelimit", f'"{quota.name}";r={self.remaining};t={self.reset_seconds}'.encode()),
        ]
        if not self.allowed:
            h.append((b"retry-after", str(self.retry_after).encode()))
        return h


DEFAULT_QUOTAS = {
    "read": Quota("read", 1200, 60),
    "write": Quota("write", 300, 60),
    "token": Quota("token", 30, 60),
    "public": Quota("public", 120, 60),
}


def parse_quotas(raw: str) -> dict[str, Quota]:
    """``RUTA_RATE_LIMITS``: JSON ``{"read": {"capacity": 1200, "window_seconds": 60}, ...}``."""
    quotas = dict(DEFAULT_QUOTAS)
    for name, spec in (json.loads(raw or "{}") or {}).items():
        if name not in DEFAULT_QUOTAS:
            raise ValueError(f"unknown rate-limit class {name!r}")
        capacity = int(spec["capacity"])
        window = float(spec.get("window_seconds", 60))
        if capacity < 1 or window <= 0:
            raise ValueError(f"rate limit {name!r} must allow at least one request")
        quotas[name] = Quota(name, capacity, window)
    return quotas


def _decide(tokens: float, quota: Quota) -> Decision:
    if tokens >= 1:
        return _decision(quota, True, tokens - 1)
    return _decision(quota, False, tokens)


def _decision(quota: Quota, allowed: bool, tokens: float) -> Decision:
    """The answer to one hit, ``tokens`` left for the caller after it."""
    reset = math.ceil((quota.capacity - tokens) / quota.rate)
    retry = 0 if allowed else max(1, math.ceil((1 - tokens) / quota.rate))
    return Decision(allowed, int(tokens), reset, retry)


def _bucket(key: str, quota: Quota) -> str:
    """A caller's bucket of one route class (in memory, and in Redis after its prefix)."""
    return f"{quota.name}:{key}"


class Limiter(Protocol):
    async def hit(self, key: str, quota: Quota) -> Decision: ...

    async def close(self) -> None: ...


class MemoryLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max = max_keys

    async def hit(self, key: str, quota: Quota) -> Decision:
        return self.hit_sync(key, quota)

    def hit_sync(self, key: str, quota: Quota) -> Decision:
        now = time.monotonic()
        full_key = _bucket(key, quota)
        tokens, ts = self._buckets.get(full_key, (float(quota.capacity), now))
        tokens = min(float(quota.capacity), tokens + (now - ts) * quota.rate)
        decision = _decide(tokens, quota)
        self._buckets[full_key] = (tokens - 1 if decision.allowed else tokens, now)
        self._buckets.move_to_end(full_key)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return decision

    async def close(self) -> None:
        return None


# KEYS[i] bucket i; ARGV[3i-2], ARGV[3i-1], ARGV[3i] its capacity, rate (tokens/s) and how
# many tokens to take. Returns {taken_1, tokens_1*1000, taken_2, ...}: up to ``want`` tokens
# taken from each bucket on Redis's clock, atomically, never more than it holds.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[3 * i - 2])
  local rate = tonumber(ARGV[3 * i - 1])
  local want = tonumber(ARGV[3 * i])
  local b = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(b[1])
  local ts = tonumber(b[2])
  if tokens == nil then tokens = capacity; ts = now end
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  local taken = math.min(want, math.floor(tokens))
  tokens = tokens - taken
  redis.call('HSET', key, 'tokens', tokens, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(capacity / rate * 1000) + 1000)
  out[2 * i - 1] = taken
  out[2 * i] = math.floor(tokens * 1000)
end
return out
"""

# A caller's tokens taken ahead (a lease): never more than this many at once, nor more than
# 1/LEASE_SHARE of the bucket, so a bucket of fewer than 2 * LEASE_SHARE is never leased.
LEASE_MAX = 32
LEASE_SHARE = 50
# a lease spent sooner than this doubles the next one; a lease spent slower halves it
LEASE_FAST_SECONDS = 0.05


@dataclass(slots=True)
class _Lease:
    """Tokens of one bucket taken from Redis and not yet spent here."""

    tokens: int = 0
    remaining: float = 0.0   # what Redis held after the last take
    size: int = 1            # tokens taken ahead next time, besides the hits themselves
    taken_at: float = -1e9


Hit = tuple[str, Quota, "asyncio.Future[Decision]"]


class RedisLimiter:
    """Buckets in Redis, shared by every gateway replica; two costs kept off the request.

    - Hits sent in batches: the requests that reach the limiter in the same turn of the
      event loop go to Redis as one script call (one call per request cost a fifth of the
      distributed gateway's CPU, py-spy 2026-12-05: redis-py's command, retry and parsing
      layers, most of it the same for one hit or twenty).
    - Tokens taken ahead for a fast caller (decision 0020): a caller whose last tokens went
      within LEASE_FAST_SECONDS takes twice as many next time (up to LEASE_MAX and
      1/LEASE_SHARE of the bucket), and spends them here without asking Redis; a slower
      caller's lease halves back to none. Redis never gives more tokens than the bucket
      holds, so all replicas together admit no more than the limit; a replica holds at most
      a lease's tokens that another replica cannot use until this one spends them.
    """

    def __init__(self, url: str, prefix: str = "ruta:rl:", max_keys: int = 100_000) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix
        self._fallback = MemoryLimiter()
        self._leases: OrderedDict[str, _Lease] = OrderedDict()
        self._max_keys = max_keys
        self._pending: list[Hit] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def hit(self, key: str, quota: Quota) -> Decision:
        lease = self._leases.get(_bucket(key, quota))
        if lease is not None and lease.tokens > 0:
            lease.tokens -= 1
            return _decision(quota, True, lease.remaining + lease.tokens)
        loop = asyncio.get_running_loop()
        decided: asyncio.Future[Decision] = loop.create_future()
        self._pending.append((key, quota, decided))
        if len(self._pending) == 1:  # the first of this turn sends the batch after it
            loop.call_soon(self._send_pending)
        return await decided

    def _send_pending(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _lease(self, bucket: str, quota: Quota, now: float) -> _Lease:
        """The bucket's lease, its size for this take adjusted to how fast the last went."""
        lease = self._leases.get(bucket)
        if lease is None:
            lease = self._leases[bucket] = _Lease()
            if len(self._leases) > self._max_keys:
                self._leases.popitem(last=False)
        else:
            self._leases.move_to_end(bucket)
            ceiling = max(1, min(LEASE_MAX, quota.capacity // LEASE_SHARE))
            fast = now - lease.taken_at < LEASE_FAST_SECONDS
            lease.size = min(ceiling, lease.size * 2) if fast else max(1, lease.size // 2)
        lease.taken_at = now
        return lease

    async def _send(self, batch: list[Hit]) -> None:
        # one entry per bucket: its hits in this batch, and tokens to take ahead
        buckets: dict[str, tuple[Quota, list[asyncio.Future[Decision]], str]] = {}
        for key, quota, decided in batch:
            bucket = _bucket(key, quota)
            if bucket in buckets:
                buckets[bucket][1].append(decided)
            else:
                buckets[bucket] = (quota, [decided], key)
        now = time.monotonic()
        leases = {b: self._lease(b, q, now) for b, (q, _, _) in buckets.items()}
        args: list[Any] = []
        for bucket, (quota, hits, _) in buckets.items():
            args += [quota.capacity, quota.rate, len(hits) + leases[bucket].size - 1]
        try:
            answer = await self._script(
                keys=[self._prefix + bucket for bucket in buckets], args=args)
        except Exception as exc:
            log.warning("ratelimit_redis_unavailable", error=type(exc).__name__)
            for bucket, (quota, hits, key) in buckets.items():
                leases[bucket].size = 1
                for decided in hits:
                    if not decided.done():
                        decided.set_result(self._fallback.hit_sync(key, quota))
            return
        for i, (bucket, (quota, hits, _)) in enumerate(buckets.items()):
            taken, tokens = int(answer[2 * i]), int(answer[2 * i + 1]) / 1000
            allowed = min(taken, len(hits))
            lease = leases[bucket]
            lease.remaining = tokens
            lease.tokens += taken - allowed  # taken ahead: spent here by the next hits
            left = tokens + lease.tokens
            for n, decided in enumerate(hits):
                decision = _decision(quota, True, left + allowed - n - 1) if n < allowed \
                    else _decision(quota, False, left)
                if not decided.done():  # a request cancelled meanwhile still spent its token
                    decided.set_result(decision)

    async def ping(self) -> None:
        """Readiness: Redis answers (the limiter itself falls back to memory when not)."""
        await self._redis.ping()

    async def close(self) -> None:
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self._redis.aclose()


def make_limiter(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
