"""Load benchmark of issues 9 and 22: the system under a realistic mix, next to its floors.

    make bench                 # or: .venv/bin/python bench/load.py [--runs 3] [--strict]

One machine, load from separate processes on loopback (wrk for single-URL measurements, this
file's ``client`` mode — aiohttp — for the mix). Each run measures, in this order:

  ref A   bare FastAPI GET /ping                                   (bench/refapps.py)
  ref B   bare FastAPI + raw asyncpg primary-key read of a profile  (bench/refapps.py)
  E       GET /v1/profiles/{id} through the embedded shape (one process, PostgreSQL):
          authenticated, authorised, audited; then the mix on E
  F       the mix's floor (refapps:mix_floor): the same mix, same proportions and client,
          against bare FastAPI + raw asyncpg running each operation's essential statements
          on the same databases (read + audit; name candidates, ranking, summaries + audit;
          consent lookup then the referral, history, outbox and idempotency inserts in one
          transaction; update + history + outbox; a feed page)
  D       the distributed shape (ruta.distributed.DistributedSystem, Redis rate limits):
          the registry called directly, through a bare proxy (refapps:proxy, the
          hop's floor), and through the gateway; then the mix on D
  mix     caseworker profile reads and searches, NGO referral posts with an Idempotency-Key
          (some retried: replays), provider transitions (accept), event-feed polling — each
          with throughput and p50/p95/p99

The reads compared by a target (ref B and E; ref B, D direct, the bare proxy and D via the
gateway) are measured in turns (``--slices`` slices each, order reversed every round) so that
the machine's drift over minutes falls on both sides of each ratio.

Rate limits stay on, as in production (token buckets per caller; Redis in the distributed
shape) with the load clients' quota sized to fit the run (``RUTA_RATE_LIMITS``).
Targets (issue 22), each a ratio of figures of one run, judged on the median of ``--runs``
runs: E >= 0.50 of ref B, D via the gateway >= 0.35 of ref B, the gateway >= 0.80 of the
bare proxy, p99 of E and D <= 2x ref B's; every mix operation of E and D >= 0.40 of its
floor's throughput with p99 <= 2x the floor's; zero errors anywhere. Every run's figures go
to bench/results/load-<stamp>.json (kept in the repository), the medians to
load-summary-<stamp>.json, with the load average at the start of each run.
Exit 0 unless --strict and a target failed (or the run itself failed: exit 1/2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kit import BENCH, RESULTS, app
from kit.databases import (
    add_pg_url_option,
    asyncpg_dsn,
    check_reachable,
    database_names,
    drop_databases,
    named_urls,
    url_env,
)
from kit.httpload import LoadGenerator, check_url, merge_slices
from kit.meters import group_peak_rss_mb, wait_quiet
from kit.processes import (
    Server,
    base_env,
    clean_environ,
    distributed_system,
    kill_everything,
    run_guarded,
)
from kit.report import command_line, git_state, relative, stamp, write_results
from kit.seed import create_with_profiles
from kit.stats import percentile, ratio
from kit.tokens import ROLE_CALLERS, TOKEN_TTL, identity_for, mint_tokens

CONNECTIONS = 50
# issue 22: each judged on the median of ``--runs`` runs (3 by default), every ratio taken
# within one run
TARGETS = {"embedded_vs_raw": 0.50, "distributed_vs_raw": 0.35, "hop": 0.80, "p99_x": 2.0,
           "mix_vs_floor": 0.40, "mix_p99_x": 2.0}
MIX = {"profile_read": 45, "profile_search": 20, "referral_post": 12,
       "provider_transition": 10, "event_poll": 13}
SEARCH_TERMS = ["Pérez", "Hernández", "maria jose", "Briceño", "Rodriguez", "Yuleisy Peña"]
# A quota sized to the run: far above what 50 connections on this machine can send, so the
# limiter runs on every request (as in production) without refusing the benchmark.
LIMITS = {"read": {"capacity": 600_000, "window_seconds": 60},
          "write": {"capacity": 120_000, "window_seconds": 60},
          "token": {"capacity": 30, "window_seconds": 60},
          "public": {"capacity": 120, "window_seconds": 60}}


# --------------------------------------------------------------------------- wrk
def measure(label: str, url: str, headers: dict[str, str], args: argparse.Namespace,
            settle: list[int]) -> dict[str, Any]:
    """One URL under ``args.load`` (wrk -t2 -c50, or bench/loadgen.py where wrk is missing
    and cannot be installed), after a warm-up, once the processes ``settle`` are quiet."""
    quiet_after = settled(label, settle)
    check_url(url, headers, None)
    if args.warmup:
        args.load.run(url, headers, args.warmup)
    r: dict[str, Any] = args.load.run(url, headers, args.duration)
    r["label"] = label
    r["settled_after_s"] = quiet_after
    bad = r["non_2xx"] + r["errors"]
    print(f"  {label:<38}{r['requests_per_s']:>8.0f} req/s  p50 {r['p50_ms']:6.2f}  "
          f"p95 {r['p95_ms']:6.2f}  p99 {r['p99_ms']:7.2f} ms"
          + (f"  !! {r['non_2xx']} non-2xx, {r['errors']} errors" if bad else ""), flush=True)
    return r


ReadTarget = tuple[str, str, dict[str, str], list[int]]  # label, url, headers, pgids to settle


def measure_interleaved(entries: list[ReadTarget], args: argparse.Namespace
                        ) -> dict[str, dict[str, Any]]:
    """Measurements compared with each other taken in turns: ``args.slices`` slices of
    ``args.duration / args.slices`` seconds each, the order reversed every round, each slice
    from a settled system after ``args.warmup`` seconds of the same load (the first second of
    load on an idle process has a tail of its own: in 2-s slices without it, E's p99 was
    59-65 ms against 33-44 ms over 10 s); each measurement's slices merged
    (``merge_slices``).

    Measured one after the other, a ratio also measured the machine's drift: on this VM the
    same process read 2,165-2,325/s at one hour and 1,742-1,874/s the next (2026-12-05),
    while ref B, measured minutes earlier, did not move. In turns, both sides of a ratio see
    the same minutes."""
    for _label, url, headers, _settle in entries:
        check_url(url, headers, None)
    seconds = max(1, round(args.duration / args.slices))
    slices: dict[str, list[dict[str, Any]]] = {e[0]: [] for e in entries}
    for k in range(args.slices):
        for label, url, headers, settle in (entries if k % 2 == 0 else entries[::-1]):
            quiet_after = wait_quiet(settle)
            if args.warmup:  # every slice starts warm, as one long measurement would
                args.load.run(url, headers, args.warmup)
            part = args.load.run(url, headers, seconds)
            part["settled_after_s"] = round(quiet_after, 1)
            slices[label].append(part)
    out: dict[str, dict[str, Any]] = {}
    for label, *_ in entries:
        r = merge_slices(slices[label])
        r["label"] = label
        out[label] = r
        bad = r["non_2xx"] + r["errors"]
        print(f"  {label:<38}{r['requests_per_s']:>8.0f} req/s  p50 {r['p50_ms']:6.2f}  "
              f"p95 {r['p95_ms']:6.2f}  p99 {r['p99_ms']:7.2f} ms  ("
              + " ".join(f"{p['requests_per_s']:.0f}" for p in r["slices"]) + ")"
              + (f"  !! {r['non_2xx']} non-2xx, {r['errors']} errors" if bad else ""),
              flush=True)
    return out


def settled(label: str, pgids: list[int]) -> float:
    """Wait for the system under test to finish the work the phase before left it (the event
    hub's catch-up, kit.meters.wait_quiet); said when it took a while."""
    waited = round(wait_quiet(pgids), 1)
    if waited > 4.5:
        print(f"  ({label}: waited {waited:.0f} s for the processes to settle)", flush=True)
    return waited


# --------------------------------------------------------------------------- the mix client
class MixClient:
    """Closed loop: ``connections`` workers, each picking an operation by weight (``MIX``);
    latencies and unexpected statuses per operation."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.base, self.tokens = spec["url"], spec["tokens"]
        self.rng = random.Random(spec.get("seed", 1))
        self.read_ids: list[str] = spec["read_ids"]
        self.referable: list[str] = list(spec["referable_ids"])
        self.rng.shuffle(self.referable)
        self.to_accept: list[tuple[str, str]] = []
        self.posted: list[tuple[str, dict[str, Any]]] = []  # (key, body) to replay
        self.lat: dict[str, list[float]] = {op: [] for op in [*MIX, "referral_replay"]}
        self.bad: dict[str, dict[str, int]] = {}
        self.socket_errors = 0
        self.feed_cursor: str | None = None
        self.samples: list[dict[str, Any]] = []

    def h(self, role: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    async def call(self, session: Any, op: str, method: str, path: str, expect: int,
                   headers: dict[str, str], **kw: Any) -> tuple[int, Any, Any]:
        import aiohttp

        start = time.perf_counter()
        try:
            async with session.request(method, self.base + path, headers=headers,
                                       **kw) as resp:
                body = await resp.read()
                status = resp.status
                rh = resp.headers.copy()  # case-insensitive
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.socket_errors += 1
            return 0, None, None
        self.lat[op].append(time.perf_counter() - start)
        if status != expect:
            self.bad.setdefault(op, {}).setdefault(str(status), 0)
            self.bad[op][str(status)] += 1
            if sum(x["op"] == op for x in self.samples) < 2:
                self.samples.append({"op": op, "status": status,
                                     "body": body[:300].decode(errors="replace")})
        return status, body, rh

    async def event_poll(self, session: Any) -> None:
        params = {"limit": "100"}
        if self.feed_cursor:
            params["cursor"] = self.feed_cursor
        status, body, _ = await self.call(session, "event_poll", "GET", "/v1/events", 200,
                                          self.h("ministry_system"), params=params)
        if status == 200 and body:
            nxt = json.loads(body).get("next_cursor")
            if nxt:
                self.feed_cursor = nxt

    async def referral_post(self, session: Any) -> None:
        if self.posted and self.rng.random() < 0.15:  # a retry on a flaky network: replayed
            key, body = self.rng.choice(self.posted)
            await self.call(session, "referral_replay", "POST", "/v1/referrals", 201,
                            self.h("ngo_partner", **{"Idempotency-Key": key}), json=body)
            return
        pid = self.referable.pop()
        key = uuid.uuid4().hex
        body = {"profile_id": pid, "programme_id": "pe-empleo",
                "provider_id": "mtpe-empleo", "notes": "búsqueda de empleo formal"}
        status, raw, rh = await self.call(session, "referral_post", "POST", "/v1/referrals",
                                          201, self.h("ngo_partner",
                                                      **{"Idempotency-Key": key}),
                                          json=body)
        if status == 201:
            self.posted.append((key, body))
            self.to_accept.append((json.loads(raw)["id"], rh.get("etag", "")))

    async def one(self, session: Any) -> None:
        op = self.rng.choices(list(MIX), list(MIX.values()))[0]
        if op == "provider_transition" and not self.to_accept:
            op = "profile_read"
        if op == "referral_post" and not self.referable:
            op = "profile_read"
        if op == "profile_read":
            await self.call(session, op, "GET",
                            f"/v1/profiles/{self.rng.choice(self.read_ids)}", 200,
                            self.h("caseworker"))
        elif op == "profile_search":
            await self.call(session, op, "GET", "/v1/profiles", 200, self.h("caseworker"),
                            params={"q": self.rng.choice(SEARCH_TERMS), "limit": "20"})
        elif op == "event_poll":
            await self.event_poll(session)
        elif op == "referral_post":
            await self.referral_post(session)
        elif op == "provider_transition":
            rid, tag = self.to_accept.pop(0)
            await self.call(session, op, "POST", f"/v1/referrals/{rid}/transitions", 200,
                            self.h("provider", **{"If-Match": tag}), json={"action": "accept"})

    def figures(self, elapsed: float) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float:
            return percentile(values, q) * 1000

        per_op = {op: {"requests": len(v), "requests_per_s": len(v) / elapsed,
                       "p50_ms": pct(v, .5), "p95_ms": pct(v, .95), "p99_ms": pct(v, .99),
                       "unexpected": self.bad.get(op, {})} for op, v in self.lat.items()}
        total = sum(len(v) for v in self.lat.values())
        return {"seconds": elapsed, "requests": total, "requests_per_s": total / elapsed,
                "per_op": per_op, "socket_errors": self.socket_errors,
                "unexpected": sum(sum(b.values()) for b in self.bad.values()),
                "samples": self.samples,
                "referrals_left_unaccepted": len(self.to_accept)}


async def client_main(spec: dict[str, Any]) -> dict[str, Any]:
    """The mix client's process: ``MixClient`` for ``spec["duration"]`` seconds."""
    import aiohttp

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    client = MixClient(spec)
    connector = aiohttp.TCPConnector(limit=spec["connections"])
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = time.perf_counter() + spec["duration"]

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await client.one(session)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(spec["connections"])))
        elapsed = time.perf_counter() - began
    return client.figures(elapsed)


def run_mix(label: str, url: str, tokens: dict[str, str], read_ids: list[str],
            referable: list[str], args: argparse.Namespace, settle: list[int]
            ) -> dict[str, Any]:
    quiet_after = settled(label, settle)
    spec = {"url": url, "tokens": tokens, "read_ids": read_ids, "referable_ids": referable,
            "connections": CONNECTIONS, "duration": args.mix_duration, "seed": 7}
    spec_file = RESULTS / f"load-spec-{os.getpid()}.json"
    spec_file.write_text(json.dumps(spec))
    try:
        out = subprocess.run([sys.executable, str(Path(__file__)), "client", str(spec_file)],
                             capture_output=True, text=True, check=False,
                             timeout=args.mix_duration + 120)
    finally:
        spec_file.unlink(missing_ok=True)
    if out.returncode != 0:
        raise RuntimeError(f"mix client failed: {out.stderr[-2000:]}")
    r: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    r["label"] = label
    r["settled_after_s"] = quiet_after
    print(f"  {label}: {r['requests_per_s']:.0f} req/s overall, {r['unexpected']} unexpected "
          f"statuses, {r['socket_errors']} socket errors", flush=True)
    for op, o in r["per_op"].items():
        if o["requests"]:
            print(f"    {op:<22}{o['requests_per_s']:>8.1f} req/s  p50 {o['p50_ms']:7.2f}  "
                  f"p95 {o['p95_ms']:7.2f}  p99 {o['p99_ms']:7.2f} ms"
                  + (f"  unexpected {o['unexpected']}" if o["unexpected"] else ""), flush=True)
    for s in r["samples"]:
        print(f"    sample unexpected: {s}", flush=True)
    return r


# --------------------------------------------------------------------------- fixtures
_doc_numbers = iter(range(20_000_001, 99_999_999))


def referable_people(url: str, token: str, n: int) -> list[str]:
    """People an NGO may refer to the MTPE employment centre (documents and consent), made
    through the API (bulk) before the timed run."""
    import httpx

    ids: list[str] = []
    with httpx.Client(base_url=url, timeout=120,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        while len(ids) < n:
            items = []
            for _ in range(min(500, n - len(ids))):
                k = next(_doc_numbers)
                items.append({
                    "given_names": random.choice(["Ana Karina", "José Luis", "Yorman"]),
                    "first_surname": "Prueba", "second_surname": "Carga",
                    "birth_date": "1991-03-04", "sex": "female", "nationality": "VEN",
                    "population_type": "migrant", "region": "PE-LMA",
                    "interest_employment": True,
                    "documents": [{"type": "ve_cedula", "number": f"V{k}",
                                   "verification": "seen"},
                                  {"type": "pe_cpp", "number": f"CPP{k}",
                                   "expiry_date": "2030-06-30", "verification": "seen",
                                   "authorises_work": True}],
                    "consents": [{"purpose": "referral", "status": "granted",
                                  "recipient_organisation_id": "mtpe-empleo",
                                  "evidence": "written", "evidence_reference": "FORM-LOAD"}]})
            resp = http.post("/v1/profiles/bulk", json={"items": items},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
            resp.raise_for_status()
            results = resp.json()["results"]
            made = [r["id"] for r in results if r["status"] == "created"]
            if not made:
                raise RuntimeError(f"bulk create made nobody: {results[:2]}")
            ids += made
    return ids


# --------------------------------------------------------------------------- main
def measure_reference_a(res: dict[str, Any], rss: dict[str, float],
                        args: argparse.Namespace) -> None:
    """ref A: bare FastAPI /ping (the framework's own ceiling; no target depends on it)."""
    print("ref A: bare FastAPI /ping", flush=True)
    with Server("ref-ping", "refapps:ping", base_env({}), args.log_dir, app_dir=BENCH) as s:
        res["ref_a"] = measure("ref A  bare /ping", s.url + "/ping", {}, args, [s.pid])
        rss["ref A (bare FastAPI)"] = group_peak_rss_mb(s.pid)


def measure_shapes(res: dict[str, Any], rss: dict[str, float], urls: dict[str, str],
                   read_ids: list[str], args: argparse.Namespace) -> None:
    """ref B (bare FastAPI + raw asyncpg PK read), up throughout; E (embedded) measured in
    turns with ref B, then the mix on E, the mix floor, and D (distributed) measured in turns
    with ref B and the bare proxy, then the mix on D."""
    print("ref B: bare FastAPI + raw asyncpg PK read, measured in turns with each shape",
          flush=True)
    ref_env = base_env({"RUTA_BENCH_REF_DSN": asyncpg_dsn(urls["registry"]),
                        "RUTA_BENCH_REF_POOL": str(app.Settings().database_pool_size)})
    with Server("ref-pk", "refapps:pk_read", ref_env, args.log_dir, app_dir=BENCH) as ref:
        ref_b: ReadTarget = ("ref B  raw asyncpg PK read",
                             f"{ref.url}/profiles/{read_ids[len(read_ids) // 2]}", {}, [ref.pid])
        measure_on_shapes(res, rss, urls, read_ids, args, ref_b)
        rss["ref B (FastAPI + asyncpg)"] = group_peak_rss_mb(ref.pid)


def measure_on_shapes(res: dict[str, Any], rss: dict[str, float], urls: dict[str, str],
                      read_ids: list[str], args: argparse.Namespace, ref_b: ReadTarget) -> None:
    path = f"/v1/profiles/{read_ids[len(read_ids) // 2]}"
    run_tag = uuid.uuid4().hex[:8]
    idents = {r: identity_for(r, subject=f"load-{r}-{run_tag}") for r in ROLE_CALLERS}
    idents["caseworker"] = identity_for("caseworker", subject=f"load-cw-{run_tag}",
                                        regions=["PE-LMA"])
    tokens = asyncio.run(mint_tokens(urls["gateway"], idents))
    auth = {"Authorization": f"Bearer {tokens['caseworker']}"}
    limits = {"RUTA_LOG_LEVEL": "WARNING", "RUTA_RATE_LIMITS": json.dumps(LIMITS)}

    print("E: embedded shape (one process) on PostgreSQL", flush=True)
    with Server("embedded", "ruta.asgi:embedded", base_env({**url_env(urls), **limits}),
                args.log_dir) as s:
        e_read = ("E  profile read via gateway", s.url + path, auth, [s.pid])
        got = measure_interleaved([ref_b, e_read], args)
        res["ref_b"], res["embedded"] = got[ref_b[0]], got[e_read[0]]
        people = referable_people(s.url, tokens["ngo_partner"], args.referable)
        floor_people = referable_people(s.url, tokens["ngo_partner"], args.referable)
        res["mix_embedded"] = run_mix("E  mix", s.url, tokens, read_ids, people, args,
                                      [s.pid])
        rss["embedded (gateway + 3 services)"] = group_peak_rss_mb(s.pid)
    print("F: the mix's floor (bare FastAPI + raw asyncpg, each operation's statements)",
          flush=True)
    floor_env = base_env({"RUTA_BENCH_REF_DSN": asyncpg_dsn(urls["registry"]),
                          "RUTA_BENCH_REF_REFERRALS_DSN": asyncpg_dsn(urls["referrals"]),
                          "RUTA_BENCH_REF_GATEWAY_DSN": asyncpg_dsn(urls["gateway"]),
                          "RUTA_BENCH_REF_POOL": str(app.Settings().database_pool_size)})
    with Server("ref-mix-floor", "refapps:mix_floor", floor_env, args.log_dir,
                app_dir=BENCH) as s:
        res["mix_floor"] = run_mix("F  mix floor", s.url, tokens, read_ids, floor_people,
                                   args, [s.pid])
        rss["mix floor (FastAPI + asyncpg)"] = group_peak_rss_mb(s.pid)

    redis_ok = subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True,
                              text=True, check=False).stdout.strip() == "PONG"
    print("D: distributed shape (4 processes)"
          + (", rate limits in Redis" if redis_ok else ", Redis unreachable: in memory"),
          flush=True)
    denv = dict(limits)
    if redis_ok:
        denv["RUTA_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    system = distributed_system(urls, denv, args.log_dir / "distributed")
    with system.running():
        signer = app.AssertionSigner(app.Settings().internal_secret, TOKEN_TTL)
        assertion = signer.sign(idents["caseworker"]).decode()
        signed = {app.ASSERTION_HEADER: assertion}
        everyone = [proc.pid for proc in system.procs.values()]
        proxy_env = base_env({"RUTA_BENCH_UPSTREAM": system.url("registry"),
                              "RUTA_BENCH_REF_POOL": str(app.Settings().database_pool_size)})
        with Server("ref-proxy", "refapps:proxy", proxy_env, args.log_dir,
                    app_dir=BENCH) as proxy:
            entries: list[ReadTarget] = [
                (ref_b[0] + " (with D)", *ref_b[1:]),
                ("D  registry direct (signed identity)", system.url("registry") + path,
                 signed, everyone),
                ("D  bare proxy -> registry", proxy.url + path, signed,
                 [*everyone, proxy.pid]),
                ("D  profile read via gateway", system.url("gateway") + path, auth,
                 everyone)]
            got = measure_interleaved(entries, args)
            for key, (label, *_) in zip(("ref_b_distributed", "direct", "proxy", "through"),
                                        entries, strict=True):
                res[key] = got[label]
        people = referable_people(system.url("gateway"), tokens["ngo_partner"],
                                  args.referable)
        res["mix_distributed"] = run_mix("D  mix", system.url("gateway"), tokens, read_ids,
                                         people, args, everyone)
        for name, proc in system.procs.items():
            rss[f"distributed {name}"] = group_peak_rss_mb(proc.pid)


def run(args: argparse.Namespace) -> int:
    code = git_state()
    clean_environ()
    when = stamp()
    args.log_dir = RESULTS / f"load-{when}-logs"
    RESULTS.mkdir(parents=True, exist_ok=True)
    prefix = f"ruta_load_{os.getpid()}"
    urls = named_urls(args.pg_url, prefix)
    try:
        asyncio.run(check_reachable(args.pg_url))
    except Exception as exc:
        print(f"PostgreSQL is not reachable at {args.pg_url}: {exc}", file=sys.stderr)
        return 2
    args.load = LoadGenerator.choose("auto", 2, CONNECTIONS)
    print(f"code: {code}; wrk -t2 -c{CONNECTIONS}, {args.duration}s per measurement after "
          f"{args.warmup}s warm-up; mix {args.mix_duration}s with aiohttp c={CONNECTIONS}; "
          f"{os.cpu_count()} CPUs shared by servers, PostgreSQL and load generators",
          flush=True)
    runs: list[tuple[dict[str, Any], dict[str, float], str]] = []
    try:
        print(f"databases {prefix}_*: create, migrate, {args.profiles} profiles...", flush=True)
        read_ids = asyncio.run(create_with_profiles(args.pg_url, urls, args.profiles))
        for k in range(args.runs):
            res: dict[str, Any] = {"load": machine_load()}
            rss: dict[str, float] = {}
            print(f"--- run {k + 1}/{args.runs} (load average {res['load']})", flush=True)
            measure_reference_a(res, rss, args)
            measure_shapes(res, rss, urls, read_ids, args)
            runs.append((res, rss, when if k == 0 else stamp()))
    finally:
        kill_everything()
        if not args.keep_databases:
            try:
                asyncio.run(drop_databases(args.pg_url, database_names(urls)))
            except Exception as exc:
                print(f"could not drop {database_names(urls)}: {exc}", file=sys.stderr)

    return report(runs, args, code)


def machine_load() -> str:
    """The load average when a run starts (uptime's three figures): 2 CPUs are shared with
    other work here, and every figure is read next to it."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def print_rows(res: dict[str, Any]) -> None:
    """Every measurement, with its throughput as a multiple of ref A's and ref B's."""
    a, b = res["ref_a"], res["ref_b"]
    print(f"{'measurement':<40}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'x ref A':>9}{'x ref B':>9}")
    rows = [("ref A  bare FastAPI /ping", a), ("ref B  raw asyncpg PK read", b),
            ("E  profile read via gateway", res["embedded"]),
            ("ref B  (in turns with D)", res["ref_b_distributed"]),
            ("D  registry direct", res["direct"]),
            ("D  bare proxy -> registry", res["proxy"]),
            ("D  profile read via gateway", res["through"])]
    for m, label in (("mix_floor", "F  floor"), ("mix_embedded", "E  mix"),
                     ("mix_distributed", "D  mix")):
        rows.append((f"{label} (all operations)", res[m]))
        for op, o in res[m]["per_op"].items():
            if o["requests"]:
                rows.append((f"{label}: {op}", o))
    for name, r in rows:
        print(f"{name:<40}{r['requests_per_s']:>9.0f}{r.get('p50_ms', float('nan')):>9.2f}"
              f"{r.get('p95_ms', float('nan')):>9.2f}{r.get('p99_ms', float('nan')):>9.2f}"
              f"{ratio(r['requests_per_s'], a['requests_per_s']):>9.2f}"
              f"{ratio(r['requests_per_s'], b['requests_per_s']):>9.2f}")


Target = tuple[str, float, str, float]  # (name, value, ">=" or "<=", limit)


def targets_of(res: dict[str, Any]) -> list[Target]:
    """Issue 22's targets as ratios of figures of one run."""
    b, e, g, proxy = res["ref_b"], res["embedded"], res["through"], res["proxy"]
    bd = res["ref_b_distributed"]  # measured in turns with D (measure_interleaved)
    checks: list[Target] = [
        ("E profile read / ref B throughput", ratio(e["requests_per_s"], b["requests_per_s"]),
         ">=", TARGETS["embedded_vs_raw"]),
        ("D via gateway / ref B throughput", ratio(g["requests_per_s"], bd["requests_per_s"]),
         ">=", TARGETS["distributed_vs_raw"]),
        ("hop: D via gateway / bare proxy", ratio(g["requests_per_s"],
                                                  proxy["requests_per_s"]),
         ">=", TARGETS["hop"]),
        ("E p99 / ref B p99", ratio(e["p99_ms"], b["p99_ms"]), "<=", TARGETS["p99_x"]),
        ("D via gateway p99 / ref B p99", ratio(g["p99_ms"], bd["p99_ms"]), "<=",
         TARGETS["p99_x"]),
    ]
    floor = res["mix_floor"]["per_op"]
    for m, label in (("mix_embedded", "E"), ("mix_distributed", "D")):
        for op in MIX:
            o, f = res[m]["per_op"][op], floor[op]
            checks.append((f"{label} {op} / floor throughput",
                           ratio(o["requests_per_s"], f["requests_per_s"]), ">=",
                           TARGETS["mix_vs_floor"]))
            checks.append((f"{label} {op} p99 / floor p99", ratio(o["p99_ms"], f["p99_ms"]),
                           "<=", TARGETS["mix_p99_x"]))
    return checks


def errors_of(res: dict[str, Any]) -> int:
    errors = sum(res[k]["non_2xx"] + res[k]["errors"]
                 for k in ("ref_a", "ref_b", "embedded", "ref_b_distributed", "direct", "proxy",
                           "through"))
    return errors + sum(res[m]["unexpected"] + res[m]["socket_errors"]
                        for m in ("mix_floor", "mix_embedded", "mix_distributed"))


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def report(runs: list[tuple[dict[str, Any], dict[str, float], str]],
           args: argparse.Namespace, code: str) -> int:
    """Each run's table and results file (bench/results/load-<stamp>.json), then every
    target judged on the median of the runs' ratios."""
    cmdline = command_line()
    per_run: list[list[Target]] = []
    errors = 0
    for k, (res, rss, when) in enumerate(runs, 1):
        checks = targets_of(res)
        per_run.append(checks)
        errors += errors_of(res)
        print()
        print(f"run {k}/{len(runs)} — command: {cmdline}; code: {code}; {os.cpu_count()} CPUs "
              f"(load average {res['load']}), {CONNECTIONS} connections; ratios within "
              "this run")
        print_rows(res)
        print("peak RSS per process (VmHWM): " + ", ".join(f"{k} {v:.0f} MB"
                                                         for k, v in rss.items()))
        out = write_results("load", {
            "command": cmdline, "code": code, "run": k, "runs": len(runs),
            "load_average": res["load"], "results": res, "peak_rss_mb": rss,
            "targets": [{"name": n, "value": v, "op": o, "limit": lim}
                        for n, v, o, lim in checks],
            "errors": errors_of(res)}, when)
        print(f"results: {relative(out)}")
    print()
    print(f"{'target (issue 22), median of ' + str(len(runs)) + ' run(s)':<44}{'median':>8}"
          f"   {'limit':<8} result   runs")
    failed = 0
    medians = []
    for i, (name, _, op, limit) in enumerate(per_run[0]):
        values = [checks[i][1] for checks in per_run]
        value = median(values)
        ok = value >= limit if op == ">=" else value <= limit
        failed += not ok
        medians.append({"name": name, "median": value, "op": op, "limit": limit,
                        "runs": values, "pass": ok})
        print(f"{name:<44}{value:>8.2f}   {op} {limit:<5} {'PASS' if ok else 'FAIL'}   "
              + " ".join(f"{v:.2f}" for v in values))
    ok = errors == 0
    failed += not ok
    print(f"{'errors (non-2xx/unexpected, socket)':<44}{errors:>8d}   == 0    "
          f"{'PASS' if ok else 'FAIL'}")
    out = write_results("load-summary", {
        "command": cmdline, "code": code, "runs": [w for _, _, w in runs],
        "load_averages": [r["load"] for r, _, _ in runs], "targets": medians,
        "errors": errors}, runs[0][2])
    verdict = "all targets PASS" if not failed else f"{failed} target(s) FAIL"
    print(f"summary: {relative(out)}; {verdict}")
    return 1 if failed and args.strict else 0


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "client":
        spec = json.loads(Path(sys.argv[2]).read_text())
        print(json.dumps(asyncio.run(client_main(spec))))
        return
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=12, help="seconds per wrk measurement")
    p.add_argument("--warmup", type=int, default=1,
                   help="seconds of load before each measurement (each slice)")
    p.add_argument("--slices", type=int, default=4,
                   help="turns in which the compared reads are measured (measure_interleaved)")
    p.add_argument("--mix-duration", type=int, default=15)
    p.add_argument("--profiles", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=3,
                   help="whole runs (references, shapes, floors); targets on the median")
    p.add_argument("--referable", type=int, default=1500,
                   help="people made referable (consent) through the API per shape")
    add_pg_url_option(p)
    p.add_argument("--keep-databases", action="store_true")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = p.parse_args()
    sys.exit(run_guarded(lambda: run(args)))


if __name__ == "__main__":
    main()
