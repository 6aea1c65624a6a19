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
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.events.hub import record_events  # noqa: E402
from gateway.events.models import WebhookSubscription  # noqa: E402
from gateway.events.signing import new_secret  # noqa: E402
from gateway.identity.devtokens import mint_dev_token  # noqa: E402
from ruta.distributed import free_port, prepare_databases, wait_healthy  # noqa: E402
from shared.crypto import Sealer  # noqa: E402
from shared.db import Database, utcnow  # noqa: E402
from shared.events import EventEnvelope  # noqa: E402
from shared.identity import Identity, Role  # noqa: E402
from shared.settings import DATABASES, Settings  # noqa: E402

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


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


async def add_subscription(db: Database, url: str, settings: Settings, org: str | None,
                           types: list[str]) -> None:
    sub_id = str(uuid.uuid4())
    async with db.uow() as uow:
        uow.session.add(WebhookSubscription(
            id=sub_id, owner="bench", organisation_id=org,
            owner_role="admin" if org is None else "ngo_partner", url=url, event_types=types,
            secret=Sealer.from_settings(settings).seal(new_secret().encode(),
                                                       f"webhook:{sub_id}".encode()),
            status="active"))
        await uow.commit()


async def throughput(urls: dict[str, str], receiver: str, workers: int, n: int,
                     env: dict[str, str], logs: Path) -> float:
    settings = Settings()
    db = Database(urls["gateway"])
    await add_subscription(db, receiver + "/hook", settings, None, ["profile.updated"])
    events = [EventEnvelope(event_id=str(uuid.uuid4()), type="profile.updated",
                            occurred_at=utcnow(), subject_type="profile",
                            subject_id=str(uuid.uuid4()), organisation_id="bench", data={})
              for _ in range(n)]
    async with httpx.AsyncClient() as c:
        base = (await c.get(receiver + "/stats")).json()["count"]
    procs = [spawn([sys.executable, "-m", "ruta.cli", "worker", "--no-relay",
                    "--worker-id", f"bench-{workers}-{i}", "--batch-size", "50"],
                   env, logs / f"worker-{workers}-{i}.log") for i in range(workers)]
    time.sleep(2.5)  # imports done before the clock starts
    started = time.perf_counter()
    await record_events(db, "registry", events)
    async with httpx.AsyncClient() as c:
        while True:
            count = (await c.get(receiver + "/stats")).json()["count"] - base
            if count >= n or time.perf_counter() - started > 120:
                break
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    for p in procs:
        stop(p)
    # later runs must not see this subscription's queue
    async with db.uow() as uow:
        from sqlalchemy import update

        await uow.session.execute(update(WebhookSubscription).values(status="disabled"))
        await uow.commit()
    await db.dispose()
    return count / elapsed


async def latency(urls: dict[str, str], receiver: str, env: dict[str, str], logs: Path,
                  seconds: float, rate: float) -> list[float]:
    settings = Settings()
    db = Database(urls["gateway"])
    await add_subscription(db, receiver + "/hook", settings, "ong-lima", ["profile.created"])
    token = await mint_dev_token(settings, Identity(
        subject="bench", role=Role.CASEWORKER, organisation_id="ong-lima",
        regions=frozenset({"PE-LMA"}), kind="user"), database=db)
    await db.dispose()
    port = free_port()
    server = spawn([sys.executable, "-m", "uvicorn", "--factory", "ruta.asgi:embedded",
                    "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                    "--no-access-log"], {**env, "RUTA_BACKGROUND_TASKS": "true"},
                   logs / "embedded.log")
    base = f"http://127.0.0.1:{port}"
    commits: dict[str, float] = {}
    try:
        wait_healthy(base, proc=server)
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
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
    finally:
        stop(server)
    return [(times[pid] - t) * 1000 for pid, t in commits.items() if pid in times]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg-url", default=os.environ.get(
        "RUTA_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"))
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20, help="profiles per second")
    args = parser.parse_args()
    tag = f"ruta_bench_wh_{os.getpid()}"
    urls = {n: f"{args.pg_url}/{tag}_{n}" for n in DATABASES}
    logs = ROOT / "bench" / "results" / "webhooks-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    env.update({f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in urls.items()})
    env.update({"RUTA_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true", "RUTA_LOG_LEVEL": "WARNING",
                "RUTA_EVENT_POLL_SECONDS": "0.05"})
    rport = free_port()
    (logs / "receiver.py").write_text(RECEIVER)
    receiver_proc = spawn([sys.executable, "-m", "uvicorn", "--app-dir", str(logs),
                           "receiver:app", "--port", str(rport), "--loop", "uvloop",
                           "--http", "httptools", "--no-access-log", "--log-level", "warning"],
                          env, logs / "receiver.log")
    receiver = f"http://127.0.0.1:{rport}"
    try:
        await prepare_databases(urls)
        wait_healthy(receiver, proc=receiver_proc)
        one = await throughput(urls, receiver, 1, args.deliveries, env, logs)
        two = await throughput(urls, receiver, 2, args.deliveries, env, logs)
        lat = await latency(urls, receiver, env, logs, args.seconds, args.rate)
    finally:
        stop(receiver_proc)
        await drop(args.pg_url, urls)
    p95 = statistics.quantiles(lat, n=20)[18] if len(lat) >= 20 else max(lat or [0])
    result: dict[str, Any] = {
        "deliveries_per_s_1_worker": round(one, 1), "deliveries_per_s_2_workers": round(two, 1),
        "ratio_2_over_1": round(two / one, 2) if one else None,
        "commit_to_delivery_ms": {"n": len(lat), "p50": round(statistics.median(lat), 1)
                                  if lat else None, "p95": round(p95, 1)},
    }
    print(f"{'measurement':40} {'value':>12}")
    print(f"{'deliveries/s, 1 worker':40} {result['deliveries_per_s_1_worker']:>12}")
    print(f"{'deliveries/s, 2 workers':40} {result['deliveries_per_s_2_workers']:>12}")
    print(f"{'ratio 2 workers / 1':40} {result['ratio_2_over_1']!s:>12}")
    print(f"{'commit → delivery p50 ms':40} {result['commit_to_delivery_ms']['p50']!s:>12}")
    print(f"{'commit → delivery p95 ms':40} {result['commit_to_delivery_ms']['p95']!s:>12}")
    out = ROOT / "bench" / "results" / f"webhooks-{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2))
    return 0 if lat and one > 0 else 1


async def drop(pg_url: str, urls: dict[str, str]) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(pg_url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username or "postgres",
                                 password=u.password, database="postgres")
    try:
        for url in urls.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
