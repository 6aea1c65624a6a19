"""The Redis limiter sends the hits of one turn of the event loop as one script call
(gateway/edge/ratelimit.py): each hit is still decided on its own bucket, in order, and a
Redis that does not answer still leaves every request decided (from memory). A fast caller's
tokens are taken ahead (a lease, decision 0020): fewer calls, never more than the limit,
whatever the number of gateway replicas."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.edge.ratelimit import Quota, RedisLimiter
from tests.support.redis import REDIS_URL, require_redis


@pytest.fixture
async def limiter() -> AsyncIterator[tuple[RedisLimiter, list[int]]]:
    """A limiter with its own key prefix, and the buckets of each script call it made."""
    require_redis()
    lim = RedisLimiter(REDIS_URL, prefix=f"ruta:test:{uuid.uuid4().hex}:")
    calls: list[int] = []
    script = lim._script

    async def counted(*, keys: list[str], args: list[Any]) -> Any:
        calls.append(len(keys))
        return await script(keys=keys, args=args)

    lim._script = counted
    yield lim, calls
    await lim.close()


async def test_hits_of_one_turn_are_one_call_decided_in_order(
        limiter: tuple[RedisLimiter, list[int]]) -> None:
    lim, calls = limiter
    three = Quota("read", 3, 600)
    one = Quota("write", 1, 600)
    decisions = await asyncio.gather(
        *(lim.hit("ana", three) for _ in range(5)), lim.hit("ana", one), lim.hit("ana", one))
    assert calls == [2]  # one call, one entry per bucket
    assert [d.allowed for d in decisions] == [True, True, True, False, False, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after >= 1
    # the next turn: its own call, on the same buckets
    assert (await lim.hit("ana", three)).allowed is False
    assert (await lim.hit("luis", three)).allowed is True
    assert calls == [2, 1, 1]


async def test_a_cancelled_request_leaves_the_rest_of_its_batch_decided(
        limiter: tuple[RedisLimiter, list[int]]) -> None:
    lim, calls = limiter
    quota = Quota("read", 2, 600)
    gone = asyncio.ensure_future(lim.hit("eva", quota))
    kept = asyncio.ensure_future(lim.hit("eva", quota))
    await asyncio.sleep(0)
    gone.cancel()
    assert (await kept).allowed is True
    # the cancelled request spent its token: the bucket of two is empty
    assert (await lim.hit("eva", quota)).allowed is False
    assert calls == [1, 1]


async def test_without_redis_every_hit_of_the_batch_is_decided_from_memory() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lim = RedisLimiter(f"redis://127.0.0.1:{port}/0")
    try:
        quota = Quota("read", 2, 600)
        decisions = await asyncio.gather(*(lim.hit("ana", quota) for _ in range(3)))
        assert [d.allowed for d in decisions] == [True, True, False]
    finally:
        await lim.close()


async def test_a_fast_caller_spends_tokens_taken_ahead_without_asking_redis_each_time(
        limiter: tuple[RedisLimiter, list[int]]) -> None:
    lim, calls = limiter
    quota = Quota("read", 5000, 3600)
    decisions = [await lim.hit("rapida", quota) for _ in range(200)]
    assert all(d.allowed for d in decisions)
    # the RateLimit header still counts down one by one
    assert [d.remaining for d in decisions] == list(range(4999, 4799, -1))
    assert len(calls) <= 15  # leases of 1, 2, 4, ... 32 tokens: not 200 calls


async def test_a_slow_caller_takes_nothing_ahead(
        limiter: tuple[RedisLimiter, list[int]]) -> None:
    lim, calls = limiter
    quota = Quota("read", 5000, 3600)
    for _ in range(4):
        assert (await lim.hit("lenta", quota)).allowed
        await asyncio.sleep(0.06)  # slower than a lease is spent
    assert len(calls) == 4
    stored = await lim._redis.hget(f"{lim._prefix}read:lenta", "tokens")
    assert int(float(stored)) == 5000 - 4  # nothing taken ahead


async def test_replicas_sharing_a_bucket_admit_exactly_the_limit_between_them() -> None:
    require_redis()
    prefix = f"ruta:test:{uuid.uuid4().hex}:"
    replicas = [RedisLimiter(REDIS_URL, prefix=prefix), RedisLimiter(REDIS_URL, prefix=prefix)]
    try:
        quota = Quota("read", 400, 36_000)  # leases up to 8 tokens; no refill meanwhile
        allowed = refused_in_a_row = 0
        n = 0
        while refused_in_a_row < 10:
            decision = await replicas[n % 2].hit("compartida", quota)
            n += 1
            allowed += decision.allowed
            refused_in_a_row = 0 if decision.allowed else refused_in_a_row + 1
        assert allowed == 400
    finally:
        for r in replicas:
            await r.close()
