"""Reports benchmark (issue 8, acceptance 4; issue 22 item 4): the full indicators report on
PostgreSQL, served from the monthly rollups, against the raw aggregate.

    make bench-reports            # or: .venv/bin/python bench/reports.py [--people N]

Loads N people into the referrals service's ``report_people`` projection (default
1,000,000) and 2·N referrals (half of them completed with typed outcomes) by COPY, builds the
report rollups (``ruta refresh-report-rollups``; its time is reported), then for ``--runs``
year-long periods (``--days``, default 365, starting on an arbitrary day) measures,
alternately:

  * API: ``GET /v1/reports/indicators?from=…&to=…`` as an admin, through the gateway of a
    real server (embedded shape, uvicorn, HTTP), nothing cached: whole months from the
    rollups, the partial months at the edges from the raw rows;
  * raw: the aggregate without rollups (the two GROUPING SETS statements over the raw rows,
    compiled to SQL text) through asyncpg, no HTTP, no Python aggregation.

Target (issue 22): the API's median time at most 0.2x the raw aggregate's median, medians of
``--runs`` (default 3) periods. Before the rollups the target was 3x. Databases
``ruta_bench_rep_*`` are created and dropped at the end unless --keep. Exit code 0 when the
target holds, 1 when it fails, 2 when PostgreSQL is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
import uuid
from typing import Any

from kit import RESULTS, app
from kit.databases import add_pg_url_option, asyncpg_dsn, drop_named, named_urls, run_on_named
from kit.processes import Server
from kit.report import machine_info, write_results
from kit.tokens import mint_token

DB_PREFIX = "ruta_bench_rep"
CHUNK = 100_000
START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
SPAN_DAYS = 3 * 365
PE = ("PE-LMA", "PE-CAL", "PE-CUS", "PE-LAL", "PE-LAM", "PE-PIU")
EC = ("EC-P", "EC-G", "EC-A", "EC-M", "EC-SD", "EC-T", "EC-O")
# programme → (route type, outcome kind, provider, provider organisation)
PROGRAMMES = {
    "PE": [("pe-empleo", "public_employment_service", "employment", "mtpe-empleo"),
           ("pe-sunedu-reconocimiento", "degree_recognition", "recognition", "sunedu"),
           ("pe-enam", "professional_licensing", "exam", "aspefam-enam"),
           ("pe-colegio-medico", "professional_licensing", "licensing",
            "colegio-medico-peru"),
           ("pe-emprende-segura", "entrepreneurship", "entrepreneurship", "oit-emprende-pe"),
           ("pe-certificacion-competencias", "skills_certification", "certification",
            "mtpe-empleo")],
    "EC": [("ec-socio-empleo", "public_employment_service", "employment",
            "mintrabajo-socio-empleo"),
           ("ec-senescyt-registro", "degree_recognition", "recognition", "senescyt"),
           ("ec-acess-licencia", "professional_licensing", "licensing", "acess"),
           ("ec-emprende-segura", "entrepreneurship", "entrepreneurship", "oit-emprende-ec"),
           ("ec-setec-certificacion", "skills_certification", "certification", "setec")],
}
STATUSES = (("requested", 12), ("accepted", 8), ("rejected", 6), ("in_progress", 10),
            ("on_hold", 4), ("completed", 45), ("failed", 5), ("cancelled", 10))
FINAL = {"rejected", "completed", "failed", "cancelled"}
MODULES = ("business_management", "financial_education", "sst")



# --- data ----------------------------------------------------------------------------------
PEOPLE_COLUMNS = ("profile_id", "organisation_id", "country", "region", "sex", "birth_year",
                  "age_band", "nationality", "population_type", "registered_at",
                  "statistics_opt_out", "erased", "updated_at")
REFERRAL_COLUMNS = (
    "id", "profile_id", "profile_organisation_id", "region", "country", "programme_id",
    "route_type", "outcome_kind", "provider_id", "provider_organisation_id",
    "referring_organisation_id", "referring_subject", "status", "outcome", "due_accept_at",
    "due_complete_at", "accepted_at", "closed_at", "created_at", "updated_at", "version")


def person_rows(n: int, rng: random.Random, now: dt.datetime
                ) -> list[tuple[str, str, dt.datetime]]:
    """(id, region, registered_at) of each person; the rows go to COPY chunk by chunk."""
    out = []
    for _ in range(n):
        region = rng.choice(PE) if rng.random() < 0.7 else rng.choice(EC)
        registered = START + dt.timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
        out.append((str(uuid.UUID(int=rng.getrandbits(128), version=4)), region, registered))
    return out


def person_record(p: tuple[str, str, dt.datetime], rng: random.Random, now: dt.datetime
                  ) -> tuple[Any, ...]:
    erased = rng.random() < 0.02
    year = rng.randint(1950, 2010)
    return (p[0], f"ong-b{rng.randrange(20):02d}", p[1][:2], p[1],
            rng.choices(("female", "male", "intersex"), (60, 39, 1))[0],
            None if erased else year, rng.choice(("25-34", "35-44")) if erased else None,
            rng.choices(("VEN", "COL", "PER", "ECU"), (85, 8, 4, 3))[0],
            rng.choice(("migrant", "refugee", "asylum_seeker", "host_community", "returnee")),
            p[2], rng.random() < 0.03, erased, now)


def outcome(kind: str, rng: random.Random, currency: str) -> dict[str, Any]:
    if kind == "employment":
        o: dict[str, Any] = {"type": "employment", "employer": "Empresa", "job_title": "X",
                             "formal_contract": rng.random() < 0.6}
        if rng.random() < 0.8:
            o |= {"monthly_wage": round(rng.uniform(900, 4000), 2), "currency": currency}
        return o
    if kind == "entrepreneurship":
        o = {"type": "entrepreneurship", "cohort": "C-1", "business_plan_presented": True,
             "modules_completed": rng.sample(MODULES, rng.randint(0, 3)),
             "formalised": rng.random() < 0.4}
        if rng.random() < 0.8:
            o |= {"seed_capital_amount": rng.choice((500, 1000, 1500)),
                  "seed_capital_currency": currency}
        if rng.random() < 0.4:
            o |= {"microcredit_amount": rng.choice((800, 2000)),
                  "microcredit_currency": currency, "microcredit_lender": "Caja"}
        return o
    return {"type": kind}


def referral_record(p: tuple[str, str, dt.datetime], rng: random.Random, now: dt.datetime,
                    weights: tuple[list[str], list[int]]) -> tuple[Any, ...]:
    country = p[1][:2]
    programme, route, kind, provider = rng.choice(PROGRAMMES[country])
    span = max(1, int((now - p[2]).total_seconds()))
    created = p[2] + dt.timedelta(seconds=rng.randrange(min(span, 400 * 86400)))
    status = rng.choices(*weights)[0]
    closed = created + dt.timedelta(days=rng.uniform(1, 120)) if status in FINAL else None
    if closed is not None and closed > now:
        closed = now
    due_accept = created + dt.timedelta(days=7)
    o = outcome(kind, rng, "PEN" if country == "PE" else "USD") \
        if status == "completed" else None
    return (str(uuid.UUID(int=rng.getrandbits(128), version=4)), p[0], "ong-b00", p[1],
            country, programme, route, kind, provider, provider, "ong-b00", "bench",
            status, json.dumps(o) if o is not None else None, due_accept,
            due_accept + dt.timedelta(days=60),
            created + dt.timedelta(days=2) if status not in ("requested", "rejected") else None,
            closed, created, closed or created, 1)


async def load(urls: dict[str, str], people: int, referrals: int, seed: int
               ) -> dict[str, Any]:
    import asyncpg

    started = time.perf_counter()
    await asyncio.wait_for(app.prepare_databases(urls), timeout=300)
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    persons = person_rows(people, rng, now)
    weights = ([s for s, _ in STATUSES], [w for _, w in STATUSES])
    conn = await asyncpg.connect(asyncpg_dsn(urls["referrals"]))
    try:
        for i in range(0, people, CHUNK):
            await conn.copy_records_to_table(
                "report_people", columns=PEOPLE_COLUMNS,
                records=[person_record(p, rng, now) for p in persons[i:i + CHUNK]])
        print(f"  {people:,} people copied ({time.perf_counter() - started:.0f} s)")
        for i in range(0, referrals, CHUNK):
            batch = [referral_record(rng.choice(persons), rng, now, weights)
                     for _ in range(min(CHUNK, referrals - i))]
            await conn.copy_records_to_table("referrals", columns=REFERRAL_COLUMNS,
                                             records=batch)
        print(f"  {referrals:,} referrals copied ({time.perf_counter() - started:.0f} s)")
        await conn.execute("VACUUM ANALYZE report_people")
        await conn.execute("VACUUM ANALYZE referrals")
    finally:
        await conn.close()
    loaded = time.perf_counter() - started
    from services.referrals.reports.rollups import refresh
    from shared.db import Database

    db = Database(urls["referrals"], pool_size=2)
    try:
        t = time.perf_counter()
        months = await refresh(db)
        built = time.perf_counter() - t
    finally:
        await db.dispose()
    conn = await asyncpg.connect(asyncpg_dsn(urls["referrals"]))
    try:
        tables = ("report_rollup_cells", "report_rollup_day_cells", "report_rollup_facts")
        for table in tables:
            await conn.execute(f"VACUUM ANALYZE {table}")
        rows = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
    finally:
        await conn.close()
    print(f"  rollups built: {months} months in {built:.0f} s ({rows})")
    return {"load_seconds": loaded, "rollup_build_seconds": built, "rollup_months": months,
            "rollup_rows": rows}


# --- the system under test ----------------------------------------------------------------
def embedded_server(urls: dict[str, str], name: str) -> Server:
    """The embedded shape on ``urls``, without its background tasks (nothing else runs)."""
    return Server(name, "ruta.asgi:embedded", {
        **os.environ, "RUTA_LOG_LEVEL": "WARNING", "RUTA_DATABASE_POOL_SIZE": "5",
        "RUTA_BACKGROUND_TASKS": "false",
        **{f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in urls.items()}}, RESULTS, timeout=60)


async def token(urls: dict[str, str]) -> str:
    identity = app.Identity(subject="bench-admin", role=app.Role.ADMIN, organisation_id=None)
    return await mint_token(urls["gateway"], identity)


def raw_statements(programmes: list[str], date_from: dt.date, date_to: dt.date
                   ) -> list[str]:
    """The two aggregate statements the service runs for this period, as SQL text."""
    from sqlalchemy import literal
    from sqlalchemy.dialects import postgresql

    reports = app.referral_reports
    f = reports.Filters(date_from, date_to)
    now = dt.datetime.now(dt.UTC)
    measures = reports.referral_measures("postgresql", now, programmes)
    reg = [reports.Measure("people_registered", literal(1))]
    stmts = [reports.grouped(reports.registered_query(f, date_to.year), reg),
             reports.grouped(reports.referrals_query(f, date_to.year, measures), measures)]
    dialect = postgresql.dialect()
    return [str(s.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            for s in stmts]


DAYS = 365


def periods(n: int, rng: random.Random) -> list[tuple[dt.date, dt.date]]:
    """``n`` periods of ``DAYS`` days (the last one inclusive) from an arbitrary day."""
    out = []
    for _ in range(n):
        start = START.date() + dt.timedelta(days=rng.randrange(SPAN_DAYS - 400))
        out.append((start, start + dt.timedelta(days=DAYS - 1)))
    return out


async def measure_periods(client: Any, headers: dict[str, str], conn: Any, n: int,
                          rng: random.Random) -> list[dict[str, Any]]:
    """``n`` periods, each the API and the raw aggregate (which one first alternates)."""
    programmes = [r["id"] for r in await conn.fetch("SELECT id FROM programmes ORDER BY id")]
    # one warm-up of each side (connections, plans, the OS page cache)
    warm = periods(1, rng)[0]
    await client.get("/v1/reports/indicators", headers=headers,
                     params={"from": str(warm[0]), "to": str(warm[1])})
    for sql in raw_statements(programmes, *warm):
        await conn.fetch(sql)
    runs = []
    for i, (lo, hi) in enumerate(periods(n, rng)):
        sqls = raw_statements(programmes, lo, hi)

        async def api(lo: dt.date = lo, hi: dt.date = hi) -> tuple[float, Any]:
            t = time.perf_counter()
            resp = await client.get("/v1/reports/indicators", headers=headers,
                                    params={"from": str(lo), "to": str(hi)})
            if resp.status_code != 200:
                raise RuntimeError(f"API {resp.status_code}: {resp.text[:300]}")
            return time.perf_counter() - t, resp.json()

        async def raw(sqls: list[str] = sqls) -> float:
            t = time.perf_counter()
            for sql in sqls:
                await conn.fetch(sql)
            return time.perf_counter() - t

        if i % 2 == 0:  # alternate which side runs first
            a, body = await api()
            r = await raw()
        else:
            r = await raw()
            a, body = await api()
        totals = {x["name"]: x["total"] for x in body["indicators"]}
        runs.append({"from": str(lo), "to": str(hi), "api_s": a, "raw_s": r,
                     "people_registered": totals["people_registered"],
                     "referrals": totals["referrals"]})
        print(f"  {lo} … {hi}: API {a:.3f} s, raw {r:.3f} s, ratio {a / r:.2f} "
              f"({totals['referrals']:,} referrals, "
              f"{totals['people_registered']:,} people registered)")
    return runs


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import httpx

    urls = named_urls(args.pg_url, DB_PREFIX)
    await drop_named(args.pg_url, DB_PREFIX)
    referrals = args.referrals or 2 * args.people
    print(f"databases {DB_PREFIX}_*: create, migrate, {args.people:,} people and "
          f"{referrals:,} referrals by COPY")
    loaded = await load(urls, args.people, referrals, args.seed)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    with embedded_server(urls, f"reports-{stamp}-server") as server:
        headers = {"Authorization": f"Bearer {await token(urls)}"}
        conn = await asyncpg.connect(asyncpg_dsn(urls["referrals"]))
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
                runs = await measure_periods(client, headers, conn, args.runs,
                                             random.Random(args.seed + 1))
        finally:
            await conn.close()
    api_median = statistics.median(r["api_s"] for r in runs)
    raw_median = statistics.median(r["raw_s"] for r in runs)
    return {"people": args.people, "referrals": referrals,
            "load_seconds": round(loaded["load_seconds"], 1),
            "rollup_build_seconds": round(loaded["rollup_build_seconds"], 1),
            "rollup_months": loaded["rollup_months"], "rollup_rows": loaded["rollup_rows"],
            "period_days": DAYS,
            "runs": [{**r, "api_s": round(r["api_s"], 3), "raw_s": round(r["raw_s"], 3)}
                     for r in runs],
            "api_median_s": round(api_median, 3), "raw_median_s": round(raw_median, 3),
            "ratio": round(round(api_median, 3) / max(round(raw_median, 3), 1e-9), 2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=1_000_000)
    p.add_argument("--referrals", type=int, default=0, help="default: twice the people")
    p.add_argument("--runs", type=int, default=3, help="periods measured (median of them)")
    p.add_argument("--days", type=int, default=365, help="length of each period")
    p.add_argument("--seed", type=int, default=20261123)
    add_pg_url_option(p)
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = p.parse_args()
    global DAYS
    DAYS = args.days
    started = time.perf_counter()
    out = run_on_named(run(args), args.pg_url, DB_PREFIX, keep=args.keep)
    if out is None:
        return 2
    ok = out["ratio"] <= 0.2
    print("\nreports benchmark — one run, the API against the raw aggregate in the same run")
    print(f"  {out['people']:,} people, {out['referrals']:,} referrals, "
          f"periods of {out['period_days']} days")
    print(f"  full report through the API (rollups): median {out['api_median_s']:.3f} s")
    print(f"  raw SQL aggregate: median {out['raw_median_s']:.3f} s")
    print(f"  {'PASS' if ok else 'FAIL'}  API at most 0.2x raw: ratio {out['ratio']:.2f}")
    out["pass"] = ok
    out["machine"] = machine_info()
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(f"results: {write_results('reports', out)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
