"""Smoke benchmark: what the gateway costs, against the floors it cannot beat.

    make bench-smoke                      # or: .venv/bin/python bench/smoke.py [--duration 8]

One run on one machine, load generator on the same cores (wrk -t2 -c50 by default):

  A  bare FastAPI GET /ping (bench/refapps.py)                         reference for everything
  B  bare FastAPI + raw asyncpg PK read of one profile                 floor for any DB read
     ... and the distributed gateway in front of B                     the hop over the floor
  E  GET /v1/profiles/{id} through the embedded shape (one process)    ratio to B (and A)
  D  the distributed shape: registry called directly (signed identity header) vs the same
     read through the gateway; the hop must keep >= 40% of direct throughput

plus micro-benchmarks: the identity assertion (HMAC sign + verify), python-jose HS256 verify
and RS256 sign, and the gateway's TokenVerifier with and without its cache. PostgreSQL
databases ``<prefix>_*`` are created, filled with synthetic profiles and dropped at the end.
Per measurement it also reports CPU ms per request of each process, PostgreSQL and "other"
(anything else on the machine: a busy machine is flagged rather than silently measured).
Results also go to bench/results/smoke-<timestamp>.json, server logs next to them.

Exit codes: 0 done (hop FAIL included, unless --strict), 1 hop FAIL with --strict or a
measurement failed, 2 PostgreSQL unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kit import BENCH, RESULTS, app
from kit.databases import (
    PG_URL_ENV,
    PostgresUnavailable,
    add_pg_url_option,
    asyncpg_dsn,
    check_reachable,
    database_names,
    drop_databases,
    named_urls,
    pg_sessions,
    refuse_if_in_use,
    url_env,
)
from kit.httpload import LoadGenerator, check_url
from kit.meters import PostgresMeter, group_cpu_seconds, system_busy_seconds
from kit.processes import (
    Server,
    base_env,
    clean_environ,
    distributed_system,
    kill_everything,
    run_guarded,
    shielded,
)
from kit.report import command_line, git_state, machine_info, relative, stamp, write_results
from kit.seed import ORG, REGION, create_with_profiles
from kit.stats import ratio
from kit.tokens import TOKEN_TTL, mint_token

HOP_THRESHOLD = 0.40
BENCH_SUBJECT = "bench-caseworker"


# --------------------------------------------------------------------------- load
def measure(label: str, load: LoadGenerator, url: str, headers: dict[str, str],
            args: argparse.Namespace, expect: str | None,
            cpu_groups: dict[str, int] | None = None) -> dict[str, Any]:
    check_url(url, headers, expect)
    if args.warmup > 0:
        load.run(url, headers, args.warmup)
    groups = cpu_groups or {}
    cpu_before = {n: group_cpu_seconds(pgid) for n, pgid in groups.items()}
    sessions_before = pg_sessions(args.pg_url, args.db_names)
    with PostgresMeter(args.db_names) as pg_meter:
        busy_before = system_busy_seconds()
        ru_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = load.run(url, headers, args.duration)
        ru_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy = system_busy_seconds() - busy_before
        cpu = {n: group_cpu_seconds(pgid) - cpu_before[n] for n, pgid in groups.items()}
    pg = pg_meter.seconds
    if pg > 0:
        cpu["postgres"] = pg
    sessions_after = pg_sessions(args.pg_url, args.db_names)
    if sessions_before is not None and sessions_after is not None:
        result["new_pg_sessions"] = sessions_after - sessions_before
    cpu["loadgen"] = (ru_after.ru_utime + ru_after.ru_stime
                      - ru_before.ru_utime - ru_before.ru_stime)
    # Whatever else ran meanwhile (this script, other people's tests...): a noisy machine
    # shows up here instead of silently in the figures.
    cpu["other"] = max(0.0, busy - sum(cpu.values()))
    requests = max(1, int(result["requests"]))
    result["cpu_ms_per_request"] = {n: round(s * 1000 / requests, 4) for n, s in cpu.items()}
    result["cpu_cores_busy"] = {n: round(s / result["seconds"], 2) for n, s in cpu.items()}
    result["label"] = label
    result["url"] = url
    print_measurement(result)
    return result


def print_measurement(result: dict[str, Any]) -> None:
    bad = result["non_2xx"] + result["errors"]
    warn = f"  !! {result['non_2xx']} non-2xx, {result['errors']} socket errors" if bad else ""
    if result.get("new_pg_sessions"):
        warn += f"  ({result['new_pg_sessions']} new PostgreSQL connections)"
    if result["cpu_cores_busy"]["other"] > 0.15:
        warn += (f"  !! {result['cpu_cores_busy']['other']:.2f} cores used by other "
                 "processes: figures disturbed")
    print(f"  {result['label']:<34} {result['requests_per_s']:>9.0f} req/s  p50 "
          f"{result['p50_ms']:>7.2f} ms  p99 {result['p99_ms']:>7.2f} ms{warn}", flush=True)


# --------------------------------------------------------------------------- micro
def _per_op_us(fn: Any, n: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def bench_identity(**extra: Any) -> Any:
    return app.Identity(subject=BENCH_SUBJECT, role=app.Role.CASEWORKER, organisation_id=ORG,
                        regions=frozenset({REGION}), kind="user", **extra)


async def _gateway_verifier_us(settings: Any, token: str, gateway_db_url: str,
                               n: int = 2_000) -> tuple[float, float]:
    """The gateway's own TokenVerifier.verify, µs per call: cache bypassed, and cache hit."""
    import inspect

    db = app.Database(gateway_db_url)
    keys = app.KeyStore(db, settings)
    verifier: Any = None
    try:
        await keys.refresh(force=True)
        verifier = app.TokenVerifier(settings, keys)

        async def verify() -> None:
            result = verifier.verify(token)
            if inspect.isawaitable(result):
                await result

        async def timed(uncached: bool, count: int) -> float:
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(count):
                    if uncached:
                        verifier._cache.clear()  # bench only: force the signature check
                    await verify()
                best = min(best, time.perf_counter() - start)
            return best / count * 1e6

        await verify()
        return await timed(True, n), await timed(False, n * 10)
    finally:
        if verifier is not None:
            await verifier.close()
        await db.dispose()


def _assertion_micro(settings: Any) -> dict[str, float]:
    signer = app.AssertionSigner(settings.internal_secret,
                                 settings.identity_assertion_ttl_seconds)
    identity = bench_identity(request_id=uuid.uuid4().hex)
    signed = signer.sign(identity)

    def sign_verify(n: int) -> None:
        for _ in range(n):
            signer.verify(signer.sign(identity))

    def sign_only(n: int) -> None:
        for _ in range(n):
            signer.sign(identity)

    def verify_only(n: int) -> None:
        for _ in range(n):
            signer.verify(signed)

    return {"assertion_sign_verify_us": _per_op_us(sign_verify, 20_000),
            "assertion_sign_us": _per_op_us(sign_only, 20_000),
            "assertion_verify_us": _per_op_us(verify_only, 20_000)}


def _jose_micro() -> dict[str, float]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jose import jwk, jwt

    # python-jose HS256 on its own, with the claims and checks of a real access token.
    secret = "bench-hs256-secret-" + "0" * 32
    now = int(time.time())
    claims = {"iss": "ruta-empleabilidad", "aud": "ruta-api", "sub": BENCH_SUBJECT,
              "iat": now, "nbf": now, "exp": now + TOKEN_TTL, "jti": uuid.uuid4().hex,
              "role": "caseworker", "org": ORG, "regions": [REGION], "permissions": [],
              "kind": "user"}
    hs_token = jwt.encode(claims, secret, algorithm="HS256")
    options = {"require_aud": True, "require_iat": True, "require_exp": True,
               "require_iss": True, "require_sub": True, "leeway": 30}

    def jose_hs256(n: int) -> None:
        for _ in range(n):
            jwt.get_unverified_header(hs_token)
            jwt.decode(hs_token, secret, algorithms=["HS256"], audience="ruta-api",
                       issuer="ruta-empleabilidad", options=options)

    # What per-request asymmetric signing of the assertion would cost instead of the HMAC.
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    rsa_key = jwk.construct(rsa_pem, algorithm="RS256")  # parsed once, as a server would

    def jose_rs256_sign(n: int) -> None:
        for _ in range(n):
            jwt.encode(claims, rsa_key, algorithm="RS256")

    return {"jose_hs256_verify_us": _per_op_us(jose_hs256, 3_000),
            "jose_rs256_sign_us": _per_op_us(jose_rs256_sign, 200)}


def micro_benchmarks(settings: Any, token: str, gateway_db_url: str) -> dict[str, Any]:
    from jose import jwt

    uncached, cached = asyncio.run(_gateway_verifier_us(settings, token, gateway_db_url))
    return {
        **_assertion_micro(settings),
        **_jose_micro(),
        "gateway_token_alg": str(jwt.get_unverified_header(token).get("alg")),
        "gateway_verifier_uncached_us": uncached,
        "gateway_verifier_cached_us": cached,
    }


# --------------------------------------------------------------------------- report
def print_summary(rows: list[dict[str, Any]], micro: dict[str, Any], hop: dict[str, Any],
                  load_desc: str, cmdline: str, code: str) -> None:
    print()
    print(f"summary — {load_desc}; {os.cpu_count()} CPUs shared by servers and load generator")
    print(f"command: {cmdline}   code: {code}")
    header = (f"{'measurement':<36}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}   {'ratio':<34}"
              f"cpu ms/req (process: ms)")
    print(header)
    print("-" * (len(header) + 24))
    for row in rows:
        cpu = ", ".join(f"{k} {v:.3f}" for k, v in row["cpu_ms_per_request"].items())
        print(f"{row['name']:<36}{row['requests_per_s']:>8.0f}{row['p50_ms']:>9.2f}"
              f"{row['p99_ms']:>9.2f}   {row['ratio_text']:<34}{cpu}")
    print(f"identity assertion sign+verify: {micro['assertion_sign_verify_us']:.1f} µs/op "
          f"(sign {micro['assertion_sign_us']:.1f}, verify {micro['assertion_verify_us']:.1f}); "
          f"python-jose HS256 verify: {micro['jose_hs256_verify_us']:.1f} µs/op; "
          f"python-jose RS256 sign: {micro['jose_rs256_sign_us']:.0f} µs/op")
    print(f"gateway TokenVerifier.verify ({micro['gateway_token_alg']} token): "
          f"{micro['gateway_verifier_uncached_us']:.1f} µs/op uncached, "
          f"{micro['gateway_verifier_cached_us']:.2f} µs/op from its cache")
    print(f"hop: gateway keeps {hop['ratio']:.2f} of direct registry throughput — "
          f"{'PASS' if hop['pass'] else 'FAIL'} (>= {HOP_THRESHOLD:.2f}); in front of the "
          f"raw floor (ref B) it keeps {hop['ratio_over_ref_b']:.2f}")


def rows_and_hop(results: dict[str, dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each measurement named and put in ratio to its references; the hop's verdict."""
    a = results["ref_a"]["requests_per_s"]
    b = results["ref_b"]["requests_per_s"]
    e = results["embedded"]["requests_per_s"]
    d = results["direct"]["requests_per_s"]
    g = results["through"]["requests_per_s"]
    ob = results["over_b"]["requests_per_s"]
    hop_ratio = ratio(g, d)
    hop = {"ratio": hop_ratio, "threshold": HOP_THRESHOLD, "pass": hop_ratio >= HOP_THRESHOLD,
           "ratio_over_ref_b": ratio(ob, b)}
    results["ref_a"].update(name="bare /ping (ref A)", ratio=1.0, ratio_text="1.00")
    results["ref_b"].update(name="raw asyncpg PK read (ref B)", ratio=1.0,
                            ratio_text=f"1.00 ({ratio(b, a):.2f} of A)")
    results["embedded"].update(name="embedded gateway profile read", ratio=ratio(e, b),
                               ratio_of_a=ratio(e, a),
                               ratio_text=f"{ratio(e, b):.2f} of B ({ratio(e, a):.2f} of A)")
    results["direct"].update(name="distributed: registry direct", ratio=1.0,
                             ratio_of_b=ratio(d, b),
                             ratio_text=f"1.00 ({ratio(d, b):.2f} of B)")
    results["through"].update(
        name="distributed: through gateway", ratio=hop_ratio, ratio_of_b=ratio(g, b),
        ratio_text=f"{hop_ratio:.2f} of direct  {'PASS' if hop['pass'] else 'FAIL'} (>=0.40)")
    results["over_b"].update(name="gateway in front of ref B", ratio=ratio(ob, b),
                             ratio_text=f"{ratio(ob, b):.2f} of B (hop, fast upstream)")
    rows = [results[k] for k in ("ref_a", "ref_b", "over_b", "embedded", "direct", "through")]
    return rows, hop


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Gateway smoke benchmark (see module docstring).")
    p.add_argument("--duration", type=int, default=8, help="seconds per measurement (8)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each (2)")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--profiles", type=int, default=10_000, help="synthetic profiles (10000)")
    add_pg_url_option(p)
    p.add_argument("--db-prefix", default="ruta_bench")
    p.add_argument("--loadgen", choices=["auto", "wrk", "aiohttp"], default="auto")
    p.add_argument("--strict", action="store_true", help="exit 1 when the hop is under 40%%")
    p.add_argument("--keep-databases", action="store_true")
    args = p.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.connections < 1 or args.threads < 1:
        p.error("duration >= 1, warmup >= 0, connections >= 1, threads >= 1")
    return args


def measure_all(args: argparse.Namespace, load: LoadGenerator, urls: dict[str, str],
                log_dir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The six measurements and the micro-benchmarks, on databases already checked free."""
    settings = app.Settings()
    results: dict[str, dict[str, Any]] = {}
    ids = asyncio.run(create_with_profiles(args.pg_url, urls, args.profiles))
    profile_id = ids[len(ids) // 2]
    path = f"/v1/profiles/{profile_id}"

    token = asyncio.run(mint_token(urls["gateway"], bench_identity()))
    auth = {"Authorization": f"Bearer {token}"}
    print("micro-benchmarks (identity assertion, token verification)...", flush=True)
    micro = micro_benchmarks(settings, token, urls["gateway"])
    micro["token_minted_by"] = "gateway.identity.devtokens.mint_dev_token"

    # Quiet logs; a read quota no benchmark reaches (the limiter still runs per request).
    quiet = {"RUTA_LOG_LEVEL": "WARNING", "RUTA_RATE_LIMITS": json.dumps(
        {"read": {"capacity": 1_000_000_000, "window_seconds": 1}})}
    db_env = url_env(urls)

    print("A: bare FastAPI /ping", flush=True)
    with Server("ref-ping", "refapps:ping", base_env({}), log_dir, app_dir=BENCH) as s:
        results["ref_a"] = measure("bare /ping (ref A)", load, s.url + "/ping", {}, args,
                                   '"pong"', {"server": s.pid})

    print("B: bare FastAPI + raw asyncpg PK read; then a gateway in front of it", flush=True)
    ref_env = base_env({"RUTA_BENCH_REF_DSN": asyncpg_dsn(urls["registry"]),
                        "RUTA_BENCH_REF_POOL": str(settings.database_pool_size)})
    with Server("ref-pk", "refapps:pk_read", ref_env, log_dir, app_dir=BENCH) as s:
        results["ref_b"] = measure("raw asyncpg PK read (ref B)", load,
                                   f"{s.url}/profiles/{profile_id}", {}, args, profile_id,
                                   {"server": s.pid})
        # The hop with nothing slow behind it: the distributed gateway, its registry
        # upstream pointed at reference B.
        gw_env = base_env({**db_env, **quiet, "RUTA_REGISTRY_URL": s.url})
        with Server("gateway-over-b", "ruta.asgi:gateway", gw_env, log_dir) as g:
            results["over_b"] = measure(
                "gateway in front of ref B", load, g.url + path, auth, args, profile_id,
                {"gateway": g.pid, "server": s.pid})

    print("E: embedded shape (ruta.asgi:embedded), PostgreSQL", flush=True)
    with Server("embedded", "ruta.asgi:embedded", base_env({**db_env, **quiet}),
                log_dir) as s:
        results["embedded"] = measure("embedded gateway profile read", load, s.url + path,
                                      auth, args, profile_id, {"server": s.pid})

    print("D: distributed shape (ruta.distributed.DistributedSystem)", flush=True)
    system = distributed_system(urls, quiet, log_dir / "distributed")
    with system.running():
        pgids = {"gateway": system.procs["gateway"].pid,
                 "registry": system.procs["registry"].pid}
        direct_signer = app.AssertionSigner(settings.internal_secret, TOKEN_TTL)
        assertion = direct_signer.sign(bench_identity()).decode()
        results["direct"] = measure("distributed: registry direct", load,
                                    system.url("registry") + path,
                                    {app.ASSERTION_HEADER: assertion}, args, profile_id, pgids)
        results["through"] = measure("distributed: through gateway", load,
                                     system.url("gateway") + path, auth, args, profile_id,
                                     pgids)
    return results, micro


def busy_cores_now() -> float:
    """Cores the machine keeps busy over one second before the run (warned above 0.2)."""
    before = system_busy_seconds()
    time.sleep(1.0)
    idle_busy = system_busy_seconds() - before
    if idle_busy > 0.2:
        print(f"WARNING: the machine is already busy ({idle_busy:.2f} cores before we start); "
              "figures will be disturbed", flush=True)
    return idle_busy


def run(args: argparse.Namespace) -> int:
    # Tokens minted here and servers started here must agree on secrets: both use the
    # development defaults, whatever RUTA_* this shell happens to have.
    code = git_state()
    clean_environ()
    with contextlib.suppress(ImportError):  # this process's own logs (seeding) stay quiet
        app.configure_logging("WARNING", json=False)
    when = stamp()
    log_dir = RESULTS / f"smoke-{when}-logs"
    cmdline = command_line()
    urls = named_urls(args.pg_url, args.db_prefix)
    db_names = database_names(urls)
    args.db_names = db_names

    load = LoadGenerator.choose(args.loadgen, args.threads, args.connections)
    load_desc = load.describe()
    print(f"load generator: {load_desc}; {args.duration}s per measurement after "
          f"{args.warmup}s warm-up", flush=True)
    print(f"code: {code}", flush=True)

    idle_busy = busy_cores_now()

    try:
        asyncio.run(check_reachable(args.pg_url))
    except PostgresUnavailable as exc:
        print(f"PostgreSQL is not reachable at {args.pg_url} ({exc}).\n"
              f"Start it, or point --pg-url / {PG_URL_ENV} at one "
              "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432).", file=sys.stderr)
        return 2
    print(f"databases {', '.join(db_names)}: create, migrate, {args.profiles} "
          "profiles...", flush=True)
    asyncio.run(refuse_if_in_use(args.pg_url, db_names))
    try:
        results, micro = measure_all(args, load, urls, log_dir)
    finally:
        with shielded():  # a second Ctrl-C must not leave processes or databases behind
            kill_everything()
            if not args.keep_databases:
                try:
                    asyncio.run(asyncio.wait_for(drop_databases(args.pg_url, db_names), 60))
                except Exception as exc:  # report, but keep the figures
                    print(f"could not drop {db_names}: {exc}", file=sys.stderr)

    rows, hop = rows_and_hop(results)
    print_summary(rows, micro, hop, load_desc, cmdline, code)
    out = write_results("smoke", {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "command": cmdline,
        "code": code,
        "machine": machine_info(),
        "load_generator": load_desc,
        "params": {"duration_s": args.duration, "warmup_s": args.warmup,
                   "connections": args.connections, "threads": args.threads,
                   "profiles": args.profiles},
        "results": rows,
        "micro_us_per_op": micro,
        "hop": hop,
        "busy_cores_before_start": round(idle_busy, 2),
        "logs": relative(log_dir),
    }, when)
    print(f"results: {relative(out)}")
    bad = [r["name"] for r in rows if r["non_2xx"] or r["errors"]]
    if bad:
        print(f"WARNING: non-2xx responses or socket errors in: {', '.join(bad)}",
              file=sys.stderr)
    if args.strict and (not hop["pass"] or bad):
        return 1
    return 0


def main() -> None:
    args = parse_args()
    # Six measurements, each warm-up + run + start-up, plus database set-up and teardown.
    budget = 6 * (args.duration + args.warmup + 45) + 240
    sys.exit(run_guarded(lambda: run(args), budget))


if __name__ == "__main__":
    main()
