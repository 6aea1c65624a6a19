"""A small closed-loop HTTP load generator, used by bench/smoke.py and bench/load.py only when
``wrk`` is missing.

``--connections`` keep-alive connections split over ``--processes`` processes, each sending
one request after another for ``--duration`` seconds. Prints one JSON object on stdout:
requests, seconds, requests_per_s, p50_ms, p95_ms, p99_ms, non_2xx, errors. Being Python, it is much
slower than wrk and competes harder for the CPU: figures from it are only comparable with
each other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from typing import Any

from kit.stats import percentile


async def _run(url: str, connections: int, duration: float, headers: dict[str, str]
               ) -> dict[str, Any]:
    import aiohttp

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    latencies: list[float] = []
    counters = {"non_2xx": 0, "errors": 0}
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     headers=headers) as session:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            while True:
                start = time.perf_counter()
                if start >= deadline:
                    return
                try:
                    async with session.get(url) as resp:
                        await resp.read()
                        if not 200 <= resp.status < 400:
                            counters["non_2xx"] += 1
                except (aiohttp.ClientError, TimeoutError, OSError):
                    counters["errors"] += 1
                    continue
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return {"latencies": latencies, "seconds": elapsed, **counters}


def _child(args: tuple[str, int, float, dict[str, str]]) -> dict[str, Any]:
    return asyncio.run(_run(*args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    headers = {}
    for h in args.header:
        name, _, value = h.partition(":")
        headers[name.strip()] = value.strip()
    procs = max(1, min(args.processes, args.connections))
    split = [args.connections // procs + (1 if i < args.connections % procs else 0)
             for i in range(procs)]
    jobs = [(args.url, n, args.duration, headers) for n in split]
    if procs == 1:
        parts = [_child(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(procs) as pool:
            parts = pool.map(_child, jobs)
    lat = sorted(x for p in parts for x in p["latencies"])
    seconds = max(p["seconds"] for p in parts)
    out = {
        "requests": len(lat),
        "seconds": seconds,
        "requests_per_s": len(lat) / seconds if seconds else 0.0,
        "p50_ms": percentile(lat, 0.50) * 1000,
        "p95_ms": percentile(lat, 0.95) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
        "non_2xx": sum(p["non_2xx"] for p in parts),
        "errors": sum(p["errors"] for p in parts),
        # as kit.httpload's wrk summary: slices of one measurement merge (merge_slices)
        "quantiles_ms": [percentile(lat, (i + 0.5) / 1000) * 1000 for i in range(1000)],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
