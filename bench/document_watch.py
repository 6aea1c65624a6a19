"""Document-expiry watch benchmark (issue 19, item 6), on PostgreSQL.

    make bench-watch            # or: .venv/bin/python bench/document_watch.py [--profiles N]

One registry database ``ruta_bench_watch_registry`` (created, migrated, dropped at the end
unless --keep) gets N profiles with one CPP each (default 1,000,000), inserted with
``generate_series``; 1% of them are due (expiring within the horizons or lapsed within the
lookback), the rest expire later or lapsed long ago. Then, measured in the same run:

  1. EXPLAIN of each of the watch's statements (one per window): no sequential scan of the
     documents or profiles (the index on the expiry date drives them);
     (with the marks of the documents that lapsed long ago, as years of running leave them);
  2. the raw statements that select the due documents: the SELECT each of the watch's
     statements starts with, every window of both countries, run one after the other;
  3. a whole run of the watch (``watch_documents``: claims, outbox events, worklist items),
     the database reset between runs (outside the timing).

Each is timed three times; target: median watch run <= 3x the median raw statement.
Writes bench/results/document-watch-<stamp>.json. Exit 0 when every target holds, 1 when
one fails, 2 when PostgreSQL is unreachable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from typing import Any

from kit import app
from kit.databases import add_pg_url_option, admin_connect, asyncpg_dsn, run_on_named, seq_scans
from kit.report import machine_info, print_checks, write_results

DB_PREFIX = "ruta_bench_watch"
RUNS = 3

PROFILES_SQL = """
INSERT INTO profiles (id, organisation_id, sex, nationality, population_type, country,
                      region, status, created_by, created_at, updated_at, version,
                      opt_out_statistics, opt_out_contact)
SELECT md5('p' || i)::uuid::text, 'ong-b' || (i % 20), 'female', 'VEN', 'migrant', 'PE',
       'PE-LMA', 'active', 'bench', now(), now(), 1, false, false
FROM generate_series(1, $1) AS i
"""
# 1 in 100 due: spread over the lookback and the horizons (-30..60 days); the others expire
# 61..1560 days ahead or lapsed 31..1030 days ago
DOCUMENTS_SQL = """
INSERT INTO identity_documents (id, profile_id, doc_type, number, issuing_country,
                                expiry_date, verification, authorises_work, created_at,
                                created_by)
SELECT md5('d' || i)::uuid::text, md5('p' || i)::uuid::text, 'pe_cpp', 'CPP' || i, 'PER',
       CASE WHEN i % 100 = 0 THEN $2::date + ((i / 100) % 91 - 30)
            WHEN i % 2 = 0 THEN $2::date + 61 + (i % 1500)
            ELSE $2::date - 31 - (i % 1000) END,
       'seen', true, now(), 'bench'
FROM generate_series(1, $1) AS i
"""
# The watch has been running for years: every document that lapsed long ago was announced at
# each horizon and at its lapse (its marks are there, as in production).
HISTORY_SQL = """
INSERT INTO document_watch_marks (document_id, expiry_date, horizon_days, profile_id,
                                  announced_at)
SELECT d.id, d.expiry_date, h, d.profile_id, now()
FROM identity_documents d, unnest(ARRAY[60, 30, 7, 0]) AS h
WHERE d.expiry_date < $1::date - 30
"""
RESET_SQL = ["DELETE FROM document_watch_marks WHERE expiry_date >= $1::date - 30",
             "DELETE FROM worklist_items",
             "DELETE FROM outbox_events"]


async def explain(db: Any, sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN (not ANALYZE: nothing is written) of one of the watch's statements."""
    from sqlalchemy import text

    async with db.uow() as uow:
        rows = (await uow.session.execute(text("EXPLAIN " + sql), params)).scalars().all()
        plan = (await uow.session.execute(text("EXPLAIN (FORMAT JSON) " + sql), params)
                ).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return {"seq_scans": seq_scans(plan), "plan": "\n".join(rows)}


def compiled(statement: Any) -> str:
    from sqlalchemy.dialects import postgresql

    return str(statement.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"literal_binds": True}))


async def create(pg_url: str, url: str, n: int, today: dt.date) -> float:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await admin_connect(pg_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await app.upgrade("registry", url)
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(PROFILES_SQL, n)
        await conn.execute(DOCUMENTS_SQL, n, today)
        await conn.execute(HISTORY_SQL, today)
        await conn.execute("VACUUM ANALYZE profiles")
        await conn.execute("VACUUM ANALYZE identity_documents")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    watch = app.registry_watch
    url = f"{args.pg_url.rstrip('/')}/{DB_PREFIX}_registry"
    now = app.utcnow()
    today = dt.date.fromisoformat(args.today) if args.today else \
        watch.today_in("PE", now)
    now = dt.datetime.combine(today, dt.time(17, 0), dt.UTC)  # noon in Lima
    config = watch.WatchConfig(horizons=(60, 30, 7), lookback_days=30)
    load_s = 0.0
    if not args.reuse:
        print(f"loading {args.profiles:,} profiles with a CPP each …", flush=True)
        load_s = await create(args.pg_url, url, args.profiles, today)
        print(f"loaded in {load_s:.1f} s", flush=True)

    types = watch.rules().work_authorising_types("PE")
    windows = watch.windows(today, config)
    # the raw statements: the SELECT of the due documents of each window and country, as
    # the watch's own statement starts (no claim, no event, no item)
    raw_sqls = [compiled(watch.due_statement(
        country=c, types=watch.rules().work_authorising_types(c), horizon=h, first=lo,
        last=hi, limit=watch.BATCH)) for c in ("PE", "EC") for h, lo, hi in windows]
    conn = await asyncpg.connect(asyncpg_dsn(url))
    db = app.Database(url, pool_size=4)
    out: dict[str, Any] = {"profiles": args.profiles, "today": today.isoformat(),
                           "load_seconds": round(load_s, 1), "plans": {}}
    try:
        out["raw_seq_scans"] = []
        for sql in raw_sqls:  # EXPLAIN, and one unmeasured run of each
            await conn.fetch(sql)
            plan = json.loads(await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql))
            out["raw_seq_scans"] += seq_scans(plan)
        raw_ms, watch_ms, due = [], [], 0
        await conn.execute(RESET_SQL[0], today)  # a --reuse run finds the last run's marks
        await conn.execute("VACUUM ANALYZE document_watch_marks")
        for _ in range(RUNS):
            t = time.perf_counter()
            due = 0
            for sql in raw_sqls:
                due += len(await conn.fetch(sql))
            raw_ms.append((time.perf_counter() - t) * 1000)
        # one unmeasured run first, as the raw statements had theirs (the first reads of
        # freshly loaded pages set their hint bits: a write the measured runs must not pay)
        for run in range(RUNS + 1):
            await conn.execute(RESET_SQL[0], today)
            for sql in RESET_SQL[1:]:
                await conn.execute(sql)
            for table in ("document_watch_marks", "outbox_events", "worklist_items"):
                await conn.execute(f"VACUUM ANALYZE {table}")
            t = time.perf_counter()
            outcome = await watch.watch_documents(db=db, config=config, now=now)
            if run:
                watch_ms.append((time.perf_counter() - t) * 1000)
            out["announced"] = outcome.expiring + outcome.expired
        # the plans as the watch meets them in its steady state: the marks of a run there
        await conn.execute("VACUUM ANALYZE document_watch_marks")
        await conn.execute("VACUUM ANALYZE worklist_items")
        for horizon, lo, hi in windows:
            params = watch.pg_announce_params(country="PE", types=types, today=today,
                                              horizon=horizon, first=lo, last=hi, now=now,
                                              batch=watch.BATCH)
            out["plans"][str(horizon)] = await explain(db, watch.PG_ANNOUNCE.text, params)
    finally:
        await conn.close()
        await db.dispose()
    out.update(due=due, raw_ms=[round(v, 1) for v in raw_ms],
               watch_ms=[round(v, 1) for v in watch_ms],
               raw_median_ms=round(statistics.median(raw_ms), 1),
               watch_median_ms=round(statistics.median(watch_ms), 1))
    out["ratio"] = round(out["watch_median_ms"] / out["raw_median_ms"], 2)
    return out


def verdicts(out: dict[str, Any]) -> list[tuple[str, bool, str]]:
    bad = {h: p["seq_scans"] for h, p in out["plans"].items() if p["seq_scans"]}
    return [
        ("the watch's statements: no sequential scan", not bad,
         json.dumps(bad) if bad else "index scans only"),
        ("every due document announced once", out["announced"] == out["due"],
         f"{out['announced']:,} announced, {out['due']:,} due"),
        ("watch run <= 3x the raw statements (median of 3)", out["ratio"] <= 3.0,
         f"{out['watch_median_ms']} ms vs {out['raw_median_ms']} ms = {out['ratio']}x"),
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profiles", type=int, default=1_000_000)
    p.add_argument("--today", default=None, help="the day in Lima (default: today)")
    add_pg_url_option(p)
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--reuse", action="store_true",
                   help="measure again on the database a --keep run left (same --today)")
    args = p.parse_args()
    out = run_on_named(measure(args), args.pg_url, DB_PREFIX, keep=args.keep or args.reuse)
    if out is None:
        return 2
    for horizon, plan in out["plans"].items():
        print(f"\nEXPLAIN, window {horizon} (0: lapsed):\n{plan['plan']}")
    print(f"\nraw: {out['raw_ms']} ms; watch: {out['watch_ms']} ms; due: {out['due']:,}; "
          f"sequential scans in the raw statements' plans: {out['raw_seq_scans'] or 'none'}")
    checks = verdicts(out)
    failed = print_checks("document watch — ratios against the raw statement, same run",
                          checks)
    out["checks"] = [{"check": n, "pass": ok, "detail": d} for n, ok, d in checks]
    out["machine"] = machine_info()
    print(f"results: {write_results('document-watch', out)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
