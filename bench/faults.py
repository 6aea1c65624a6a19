"""Fault tests of issue 9, on PostgreSQL: the system under faults, not only under load.

    make faults               # or: .venv/bin/python bench/faults.py [--only pg|kill|worker]

1. PostgreSQL restart under load (embedded shape, one process): NGO profile creates (each
   with an Idempotency-Key), caseworker reads and a /readyz poller run while
   ``pg_ctlcluster ... restart`` restarts the server. Passes when: /readyz reported the
   outage (503) and is ready again; the service recovers by itself (the last seconds of
   load all succeed); no request took longer than the timeouts allow; every answer was a
   success or a 503 problem (never a 500); every create answered 201 exists, and every
   create that failed (503 or lost connection) is absent until retried with its key, after
   which the person exists exactly once.
2. A service process killed in the distributed shape (registry, SIGKILL): the gateway answers
   503 problems quickly while it is down and 200 again once it is back (same port).
3. The delivery worker killed: tests/gateway/test_worker_kill.py on PostgreSQL.

RESTARTING POSTGRESQL AFFECTS EVERYONE ON THIS SERVER: only this target does it, the outage
is a few seconds, and PostgreSQL is started again whatever happens. Prints a summary table;
exit 1 when a check failed, 2 when PostgreSQL is unreachable at the start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from kit import RESULTS, ROOT
from kit.databases import Databases, add_pg_url_option
from kit.processes import Server, base_env, clean_environ, distributed_system, kill_everything
from kit.report import Check, print_checks
from kit.tokens import identity_for, mint_tokens

CLIENT_TIMEOUT = 40.0       # seconds a client waits: above every server-side timeout
REQUEST_BOUND = 32.0        # pool wait 10 s, statement 30 s: nothing may take longer


# --pg-data: a private cluster (its data directory, owned by postgres) is restarted instead
# of the machine's, so the fault can be rehearsed without touching anyone else's server.
PRIVATE = {"data": "", "port": "5432"}


def _pg_ctl(action: str) -> list[str]:
    versions = sorted(os.listdir("/usr/lib/postgresql"))
    pg_ctl = f"/usr/lib/postgresql/{versions[-1]}/bin/pg_ctl"
    cmd = [pg_ctl, "-D", PRIVATE["data"], "-m", "fast", "-w", action]
    return (["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd)


def pg_restart_command() -> list[str]:
    if PRIVATE["data"]:
        return _pg_ctl("restart")
    versions = sorted(os.listdir("/etc/postgresql"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


def pg_start_command() -> list[str]:
    if PRIVATE["data"]:
        return _pg_ctl("start")
    versions = sorted(os.listdir("/etc/postgresql"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]


def pg_is_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", PRIVATE["port"], "-q"],
                          check=False).returncode == 0


def person(n: int) -> dict[str, Any]:
    return {"given_names": "Falla", "first_surname": "Prueba", "birth_date": "1990-01-01",
            "sex": "female", "nationality": "VEN", "population_type": "migrant",
            "region": "PE-LMA", "documents": [{"type": "ve_cedula", "number": f"V{n}",
                                               "verification": "seen"}]}


# --------------------------------------------------------------------------- 1. PostgreSQL
@dataclass
class Traffic:
    """What the clients saw while PostgreSQL restarted (times in seconds from the start)."""

    creates: list[dict[str, Any]] = field(default_factory=list)
    reads: list[tuple[float, int, float]] = field(default_factory=list)  # (t, status, seconds)
    ready: list[tuple[float, int]] = field(default_factory=list)   # (t, /readyz status)
    outage: tuple[float, float] = (0.0, 0.0)  # the restart command's start and end
    end: float = 0.0


async def restart_postgres(checks: list[Check], t0: float) -> tuple[float, float]:
    """``pg_ctlcluster ... restart``; the outage as (start, end) from ``t0``."""
    print("  restarting PostgreSQL: " + " ".join(pg_restart_command()), flush=True)
    r0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *pg_restart_command(), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    restarted = time.monotonic()
    print(f"  restart took {restarted - r0:.1f} s (exit {proc.returncode}"
          f"{': ' + err.decode()[-200:] if proc.returncode else ''})", flush=True)
    checks.append(("pg: restart command succeeded", proc.returncode == 0,
                   f"{restarted - r0:.1f} s"))
    return r0 - t0, restarted - t0


async def load_through_restart(http: Any, ngo: dict[str, str], cw: dict[str, str],
                               args: argparse.Namespace, checks: list[Check]) -> Traffic:
    """NGO creates (each with its key), caseworker reads and a /readyz poller, from 3 s
    before PostgreSQL restarts until ``args.after`` seconds after it is back."""
    import httpx

    seen = Traffic()
    counter = iter(range(30_000_001, 39_999_999))
    t0 = time.monotonic()
    stop_at = [t0 + 1e9]
    seed = await http.post("/v1/profiles", json=person(next(counter)), headers=ngo)
    seed.raise_for_status()
    read_id = seed.json()["id"]

    async def creator() -> None:
        while time.monotonic() < stop_at[0]:
            n, key = next(counter), uuid.uuid4().hex
            start = time.monotonic()
            rec: dict[str, Any] = {"n": n, "key": key, "t": start - t0}
            try:
                r = await http.post("/v1/profiles", json=person(n),
                                    headers={**ngo, "Idempotency-Key": key})
                rec.update(status=r.status_code,
                           ctype=r.headers.get("content-type", ""),
                           id=r.json().get("id") if r.status_code == 201 else None)
            except httpx.HTTPError as exc:
                rec.update(status=0, error=type(exc).__name__)
            rec["seconds"] = time.monotonic() - start
            seen.creates.append(rec)

    async def reader() -> None:
        while time.monotonic() < stop_at[0]:
            start = time.monotonic()
            try:
                r = await http.get(f"/v1/profiles/{read_id}", headers=cw)
                status = r.status_code
            except httpx.HTTPError:
                status = 0
            seen.reads.append((start - t0, status, time.monotonic() - start))

    async def poller() -> None:
        while time.monotonic() < stop_at[0]:
            try:
                r = await http.get("/readyz", timeout=5)
                seen.ready.append((time.monotonic() - t0, r.status_code))
            except httpx.HTTPError:
                seen.ready.append((time.monotonic() - t0, 0))
            await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(f()) for f in [creator] * 4 + [reader] * 4 + [poller]]
    await asyncio.sleep(3)
    seen.outage = await restart_postgres(checks, t0)
    await asyncio.sleep(args.after)
    stop_at[0] = time.monotonic()
    await asyncio.gather(*tasks)
    seen.end = time.monotonic() - t0
    return seen


def availability_checks(seen: Traffic) -> list[Check]:
    """/readyz saw the outage, the service recovered by itself, every answer was a success
    or a 503 problem, and nothing waited beyond its timeout."""
    checks: list[Check] = []
    creates, other, ready, outage, end = (seen.creates, seen.reads, seen.ready, seen.outage,
                                          seen.end)
    # /readyz saw the outage and recovered
    during = [s for t, s in ready if outage[0] <= t <= outage[1] + 2]
    checks.append(("pg: /readyz reported the outage (503)", 503 in during,
                   f"{during.count(503)} x 503 of {len(during)} polls around it"))
    last_ready = [s for t, s in ready if t >= end - 2]
    checks.append(("pg: /readyz ready again", bool(last_ready) and all(
        s == 200 for s in last_ready), f"last polls {last_ready[-3:]}"))
    # recovered without a restart: the final seconds all succeed
    tail = [c for c in creates if c["t"] >= end - 3]
    tail_reads = [s for t, s, _ in other if t >= end - 3]
    ok_tail = all(c["status"] == 201 for c in tail) and all(
        s == 200 for s in tail_reads)
    checks.append(("pg: recovered without restarting the service", ok_tail and
                   bool(tail), f"last 3 s: {len(tail)} creates, "
                   f"{len(tail_reads)} reads, all ok={ok_tail}"))
    # answers: success or a 503 problem, never a 500; nothing hung
    statuses: dict[str, int] = {}
    for c in creates:
        statuses[f"create {c['status']}"] = statuses.get(f"create {c['status']}", 0) + 1
    for _, s, _ in other:
        statuses[f"read {s}"] = statuses.get(f"read {s}", 0) + 1
    allowed = {"create 201", "create 503", "read 200", "read 503"}
    bad_503 = [c for c in creates if c["status"] == 503
               and not c["ctype"].startswith("application/problem+json")]
    checks.append(("pg: only successes and 503 problems", set(statuses) <= allowed
                   and not bad_503, json.dumps(statuses)))
    slowest = max([c["seconds"] for c in creates] + [s for _, _, s in other])
    checks.append(("pg: no request beyond its timeout", slowest <= REQUEST_BOUND,
                   f"slowest {slowest:.2f} s (bound {REQUEST_BOUND:.0f} s)"))
    return checks


async def write_checks(http: Any, ngo: dict[str, str], cw: dict[str, str],
                       creates: list[dict[str, Any]]) -> list[Check]:
    """No write half-done: every 201 exists, no failed create was written, and each failed
    create retried with its key exists exactly once."""
    checks: list[Check] = []
    missing, ghost = [], []
    for c in creates:
        if c["status"] == 201:
            r = await http.get(f"/v1/profiles/{c['id']}", headers=cw)
            if r.status_code != 200:
                missing.append(c["n"])
    failed = [c for c in creates if c["status"] != 201]
    for c in failed:
        found = await http.get("/v1/profiles", params={"document": f"V{c['n']}"}, headers=cw)
        if found.json()["items"] and c["status"] != 0:
            ghost.append(c["n"])  # a 5xx whose write happened anyway
    checks.append(("pg: every 201 create exists", not missing,
                   f"{sum(c['status'] == 201 for c in creates)} created, "
                   f"{len(missing)} missing"))
    checks.append(("pg: no failed create was written", not ghost,
                   f"{len(failed)} failed, {len(ghost)} written anyway"))
    # retried with their keys, each failed create exists exactly once
    dup = []
    for c in failed:
        r = await http.post("/v1/profiles", json=person(c["n"]),
                            headers={**ngo, "Idempotency-Key": c["key"]})
        found = await http.get("/v1/profiles", params={"document": f"V{c['n']}"}, headers=cw)
        if r.status_code != 201 or len(found.json()["items"]) != 1:
            dup.append((c["n"], r.status_code, len(found.json()["items"])))
    checks.append(("pg: failed creates retried with their key: exactly once",
                   not dup, f"{len(failed)} retried, {len(dup)} wrong"
                   + (f" {dup[:3]}" if dup else "")))
    return checks


async def pg_restart_under_load(args: argparse.Namespace) -> list[Check]:
    import httpx

    dbs = Databases("postgresql", args.pg_url)
    checks: list[Check] = []
    try:
        await dbs.acreate()
        tag = uuid.uuid4().hex[:6]
        tokens = await mint_tokens(dbs.urls["gateway"], {
            "ngo": identity_for("ngo_partner", subject=f"faults-ngo-{tag}"),
            "cw": identity_for("caseworker", subject=f"faults-cw-{tag}")})
        env = base_env({**dbs.env(), "RUTA_LOG_LEVEL": "WARNING", "RUTA_RATE_LIMITS":
                        json.dumps({"read": {"capacity": 100_000, "window_seconds": 60},
                                    "write": {"capacity": 100_000, "window_seconds": 60}})})
        with Server("faults-embedded", "ruta.asgi:embedded", env,
                    RESULTS / "faults-logs") as server:
            ngo = {"Authorization": f"Bearer {tokens['ngo']}"}
            cw = {"Authorization": f"Bearer {tokens['cw']}"}
            async with httpx.AsyncClient(base_url=server.url, timeout=CLIENT_TIMEOUT) as http:
                seen = await load_through_restart(http, ngo, cw, args, checks)
                checks += availability_checks(seen)
                checks += await write_checks(http, ngo, cw, seen.creates)
    finally:
        ensure_postgres_running()
        dbs.drop_in_thread()
    return checks


def ensure_postgres_running() -> None:
    for _ in range(30):
        if pg_is_ready():
            return
        time.sleep(1)
    print("PostgreSQL is not up: starting it", flush=True)
    subprocess.run(pg_start_command(), check=False)
    for _ in range(30):
        if pg_is_ready():
            return
        time.sleep(1)


# --------------------------------------------------------------------------- 2. kill a service
def kill_service(args: argparse.Namespace) -> list[Check]:
    import httpx

    dbs = Databases("postgresql", args.pg_url)
    checks: list[Check] = []
    try:
        dbs.create()
        tag = uuid.uuid4().hex[:6]
        tokens = asyncio.run(mint_tokens(dbs.urls["gateway"], {
            "cw": identity_for("caseworker", subject=f"faults-cw-{tag}")}))
        cw = {"Authorization": f"Bearer {tokens['cw']}"}
        system = distributed_system(dbs.urls, {"RUTA_LOG_LEVEL": "WARNING"},
                                    RESULTS / "faults-logs" / "distributed")
        with system.running(), httpx.Client(base_url=system.url("gateway"),
                                            timeout=CLIENT_TIMEOUT, headers=cw) as http:
            made = http.post("/v1/profiles", json=person(40_000_001))
            made.raise_for_status()
            path = f"/v1/profiles/{made.json()['id']}"
            before = http.get(path).status_code
            system.stop_one("registry", signal.SIGKILL)
            down = []
            for _ in range(20):
                start = time.monotonic()
                r = http.get(path)
                down.append((r.status_code, r.headers.get("content-type", ""),
                             time.monotonic() - start))
            ok_down = all(s == 503 and ct.startswith("application/problem+json")
                          for s, ct, _ in down)
            slowest = max(t for _, _, t in down)
            checks.append(("kill: gateway answers 503 problems while the registry is down",
                           before == 200 and ok_down,
                           f"{sorted({s for s, _, _ in down})}, slowest {slowest * 1000:.0f} ms"))
            checks.append(("kill: gateway's /readyz stays up (own database)",
                           http.get("/readyz").status_code == 200, ""))
            t = time.monotonic()
            system.start_one("registry")
            back = None
            while time.monotonic() - t < 20:
                if http.get(path).status_code == 200:
                    back = time.monotonic() - t
                    break
                time.sleep(0.1)
            checks.append(("kill: recovered when the registry is back", back is not None,
                           f"200 again {back:.1f} s after the restart began" if back else
                           "not within 20 s"))
    finally:
        kill_everything()
        dbs.drop()
    return checks


# --------------------------------------------------------------------------- 3. worker kill
def worker_kill(args: argparse.Namespace) -> list[Check]:
    env = {**os.environ, "RUTA_TEST_DATABASE": "postgresql",
           "RUTA_TEST_PG_URL": args.pg_url}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                           "tests/gateway/test_worker_kill.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=900)
    last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
    return [("worker: tests/gateway/test_worker_kill.py (PostgreSQL)", proc.returncode == 0,
             last)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["pg", "kill", "worker"], action="append")
    p.add_argument("--after", type=float, default=8.0,
                   help="seconds of load after PostgreSQL is back")
    add_pg_url_option(p)
    p.add_argument("--pg-data", default="",
                   help="restart this private cluster's data directory (pg_ctl, as postgres) "
                        "instead of the machine's server; --pg-url must point at it")
    args = p.parse_args()
    pg_url = args.pg_url
    if args.pg_data:
        from sqlalchemy.engine import make_url

        PRIVATE.update(data=args.pg_data, port=str(make_url(pg_url).port or 5432))
    clean_environ()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not pg_is_ready():
        print(f"PostgreSQL is not reachable ({pg_url})", file=sys.stderr)
        sys.exit(2)
    wanted = args.only or ["pg", "kill", "worker"]
    checks: list[Check] = []
    try:
        if "pg" in wanted:
            print("1. PostgreSQL restart under load (embedded shape)", flush=True)
            checks += asyncio.run(pg_restart_under_load(args))
        if "kill" in wanted:
            print("2. registry process killed (distributed shape)", flush=True)
            checks += kill_service(args)
        if "worker" in wanted:
            print("3. delivery worker killed (tests/gateway/test_worker_kill.py)", flush=True)
            checks += worker_kill(args)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        checks.append((f"run: {type(exc).__name__}", False, str(exc)[:200]))
    finally:
        ensure_postgres_running()
        kill_everything()
    print()
    failed = print_checks("fault check", checks)
    (RESULTS / "faults-last.json").write_text(json.dumps(
        [{"check": n, "pass": ok, "detail": d} for n, ok, d in checks], indent=2) + "\n")
    sys.exit(1 if failed or not checks else 0)


if __name__ == "__main__":
    main()
