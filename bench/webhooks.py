"""Webhook delivery benchmark (``make bench-webhooks``), on PostgreSQL, real processes.

1. Throughput: N deliveries queued at once, drained by 1 then 2 ``ruta worker`` processes
   into a local receiver; deliveries per second for each, and the ratio 2 workers / 1.
2. Latency: the embedded system (one process, relay and worker inside) with a subscription
   to the receiver; profiles created at a steady rate through the API; p50/p95 from the
   201 answer (the commit) to the receiver seeing the signed delivery.

The receiver is a bare uvicorn app in its own process; times are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from kit import RESULTS, app
from kit.databases import (
    add_pg_url_option,
    database_names,
    drop_databases,
    named_urls,
    url_env,
)
from kit.processes import Server, base_env, clean_environ, kill_group, run_guarded, spawn
from kit.report import write_results
from kit.tokens import mint_token

RECEIVER = '''
import time
from fastapi import FastAPI, Request
app = FastAPI()
seen = {}
@app.get("/healthz")
async def health():
    return {"status": "ok"}
@app.post("/hook")
async def hook(request: Request):
    body = await request.json()
    seen.setdefault(body["data"].get("subject_id") or request.headers["webhook-id"], time.time())
    return {"ok": True}
@app.get("/stats")
async def stats():
    return {"count": len(seen), "times": seen}
'''


async def add_subscription(db: Any, url: str, settings: Any, org: str | None,
                           types: list[str]) -> None:
    sub_id = str(uuid.uuid4())
    sealer = app.Sealer.from_settings(settings)
    async with db.uow() as uow:
        uow.session.add(app.WebhookSubscription(
            id=sub_id, owner="bench", organisation_id=org,
            owner_role="admin" if org is None else "ngo_partner", url=url, event_types=types,
            secret=sealer.seal(app.new_secret().encode(), f"webhook:{sub_id}".encode()),
            status="active"))
        await uow.commit()


async def throughput(urls: dict[str, str], receiver: str, workers: int, n: int,
                     env: dict[str, str], logs: Path) -> float:
    settings = app.Settings()
    db = app.Database(urls["gateway"])
    await add_subscription(db, receiver + "/hook", settings, None, ["profile.updated"])
    events = [app.EventEnvelope(event_id=str(uuid.uuid4()), type="profile.updated",
                                occurred_at=app.utcnow(), subject_type="profile",
                                subject_id=str(uuid.uuid4()), organisation_id="bench", data={})
              for _ in range(n)]
    async with httpx.AsyncClient() as c:
        base = (await c.get(receiver + "/stats")).json()["count"]
    procs = [spawn([sys.executable, "-m", "ruta.cli", "worker", "--no-relay",
                    "--worker-id", f"bench-{workers}-{i}", "--batch-size", "50"],
                   env, logs / f"worker-{workers}-{i}.log") for i in range(workers)]
    time.sleep(2.5)  # imports done before the clock starts
    started = time.perf_counter()
    await app.record_events(db, "registry", events)
    async with httpx.AsyncClient() as c:
        while True:
            count = (await c.get(receiver + "/stats")).json()["count"] - base
            if count >= n or time.perf_counter() - started > 120:
                break
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    for p in procs:
        kill_group(p)
    # later runs must not see this subscription's queue
    async with db.uow() as uow:
        from sqlalchemy import update

        await uow.session.execute(update(app.WebhookSubscription)
                                  .values(status="disabled"))
        await uow.commit()
    await db.dispose()
    return count / elapsed


async def latency(urls: dict[str, str], receiver: str, env: dict[str, str], logs: Path,
                  seconds: float, rate: float) -> list[float]:
    db = app.Database(urls["gateway"])
    await add_subscription(db, receiver + "/hook", app.Settings(), "ong-lima",
                           ["profile.created"])
    await db.dispose()
    token = await mint_token(urls["gateway"], app.Identity(
        subject="bench", role=app.Role.CASEWORKER, organisation_id="ong-lima",
        regions=frozenset({"PE-LMA"}), kind="user"))
    commits: dict[str, float] = {}
    times: dict[str, float] = {}
    with Server("embedded", "ruta.asgi:embedded", {**env, "RUTA_BACKGROUND_TASKS": "true"},
                logs) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                r = await c.post("/v1/profiles", headers={"Authorization": f"Bearer {token}"},
                                 json={"given_names": "Bench", "first_surname": "Prueba",
                                       "birth_date": "1990-01-01", "sex": "female",
                                       "nationality": "VEN", "population_type": "migrant",
                                       "region": "PE-LMA"})
                if r.status_code == 201:
                    commits[r.json()["id"]] = time.time()
                await asyncio.sleep(1 / rate)
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline:
                times = (await c.get(receiver + "/stats")).json()["times"]
                if all(pid in times for pid in commits):
                    break
                await asyncio.sleep(0.1)
    return [(times[pid] - t) * 1000 for pid, t in commits.items() if pid in times]


def print_result(result: dict[str, Any]) -> None:
    print(f"{'measurement':40} {'value':>12}")
    print(f"{'deliveries/s, 1 worker':40} {result['deliveries_per_s_1_worker']:>12}")
    print(f"{'deliveries/s, 2 workers':40} {result['deliveries_per_s_2_workers']:>12}")
    print(f"{'ratio 2 workers / 1':40} {result['ratio_2_over_1']!s:>12}")
    print(f"{'commit → delivery p50 ms':40} {result['commit_to_delivery_ms']['p50']!s:>12}")
    print(f"{'commit → delivery p95 ms':40} {result['commit_to_delivery_ms']['p95']!s:>12}")


async def measure(args: argparse.Namespace) -> int:
    urls = named_urls(args.pg_url, f"ruta_bench_wh_{os.getpid()}")
    logs = RESULTS / "webhooks-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = base_env({**url_env(urls), "RUTA_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
                    "RUTA_LOG_LEVEL": "WARNING", "RUTA_EVENT_POLL_SECONDS": "0.05"})
    (logs / "receiver.py").write_text(RECEIVER)
    try:
        await app.prepare_databases(urls)
        with Server("receiver", "receiver:app", env, logs, app_dir=logs,
                    factory=False) as receiver:
            one = await throughput(urls, receiver.url, 1, args.deliveries, env, logs)
            two = await throughput(urls, receiver.url, 2, args.deliveries, env, logs)
            lat = await latency(urls, receiver.url, env, logs, args.seconds, args.rate)
    finally:
        await drop_databases(args.pg_url, database_names(urls))
    p95 = statistics.quantiles(lat, n=20)[18] if len(lat) >= 20 else max(lat or [0])
    result: dict[str, Any] = {
        "deliveries_per_s_1_worker": round(one, 1), "deliveries_per_s_2_workers": round(two, 1),
        "ratio_2_over_1": round(two / one, 2) if one else None,
        "commit_to_delivery_ms": {"n": len(lat), "p50": round(statistics.median(lat), 1)
                                  if lat else None, "p95": round(p95, 1)},
    }
    print_result(result)
    write_results("webhooks", result)
    return 0 if lat and one > 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_pg_url_option(parser)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20, help="profiles per second")
    args = parser.parse_args()
    clean_environ()
    return run_guarded(lambda: asyncio.run(measure(args)))


if __name__ == "__main__":
    sys.exit(main())
