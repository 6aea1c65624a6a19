"""Job matching benchmark (issue 20, item 5; docs/decisions/0014), on PostgreSQL.

    make bench-matching           # or: .venv/bin/python bench/matching.py [--people N]

Databases ``ruta_bench_match_*`` (created, migrated and dropped at the end unless --keep)
and a real embedded server (uvicorn, HTTP, the gateway in front, no background tasks) get:

  * ``--vacancies`` open vacancies (default 100,000) through the real API, ``POST
    /v1/vacancies/bulk`` (500 a batch, an ``Idempotency-Key`` each) as the public employment
    services' machine clients (``vacancies:write``): Lima's ``mtpe-empleo``, the regions'
    ``mtpe-empleo-regiones`` and Ecuador's ``mintrabajo-socio-empleo``. ISCO-08 unit groups
    from ``shared/isco08.json`` with a skewed mix (cleaners, shop salespersons, drivers,
    nurses very common; every other unit group in the tail) and a mix of requirements (work
    authorisation often, a degree in an ISCED field sometimes, a licence for health jobs,
    years of experience, languages, certified skills rarely). Its rate is reported;
  * ``--people`` consenting people (default 1,000,000) in the candidates projection
    (``match_people``, ``match_candidates``, ``match_credentials`` ...) by COPY. This is
    the documented shortcut: a million profiles, consents and credentials through the
    registry and their events through the projection are out of reach of a benchmark run.
    The rows are exactly the ones the event projection writes (``projection.rows_for``,
    given what the registry's and the credentials service's internal reads answer, in the
    shape :func:`synthetic_person` builds). Each person consents to her
    country's (and region's) public employment service; occupations (1-3, skewed like the
    vacancies), experience, languages, credentials (degrees recognised or not, licences,
    skills certificates) and work documents valid, lapsed or absent;
  * ~20 real people through the API (registry and credentials service, as a caseworker),
    their occupations in common groups, with experience, a work document and credentials.

Then, alternating which side goes first, ``--samples`` times each:

  * a person's matches: ``GET /v1/profiles/{id}/vacancy-matches?limit=20`` as the caseworker
    against the raw ranking statement (``ranking_sql.vacancies_statement``) compiled for
    PostgreSQL with literal binds and run through asyncpg;
  * a vacancy's candidates: ``GET /v1/vacancies/{id}/candidates?limit=20`` as the vacancy's
    organisation against ``ranking_sql.candidates_statement``.

Each API answer's 20 ids must be the raw statement's, in order (the run fails loudly
otherwise). EXPLAIN (ANALYZE, FORMAT JSON) of both raw statements for a few samples: no Seq
Scan on vacancies or the projection's tables. Target: p95 of the API at most 3x the raw
statement's p95, for both reads. Writes bench/results/matching-<stamp>.json. Exit 0 when
every target holds, 1 when one fails, 2 when PostgreSQL is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kit import RESULTS, ROOT, app
from kit.databases import (
    add_pg_url_option,
    asyncpg_dsn,
    drop_named,
    named_urls,
    run_on_named,
    seq_scans,
)
from kit.processes import BenchError, Server
from kit.report import machine_info, print_checks, write_results
from kit.stats import latency_summary, ratio
from kit.tokens import identity_for, mint_tokens

DB_PREFIX = "ruta_bench_match"
TOP = 20
TARGET = 3.0
BATCH = 500
CHUNK = 50_000
EXPLAINED = 3
PROJECTION_TABLES = ("match_people", "match_occupations", "match_consents",
                     "match_credentials", "match_candidates")
NO_SEQ_SCAN = ("vacancies", *PROJECTION_TABLES)

# the public employment services and the regions they post for (services/referrals/catalogue)
SERVICES = {
    "mtpe-empleo": ("PE", {"PE-LMA": 50, "PE-CAL": 10}),
    "mtpe-empleo-regiones": ("PE", {"PE-LAL": 10, "PE-PIU": 8, "PE-LAM": 7, "PE-CUS": 5}),
    "mintrabajo-socio-empleo": ("EC", {"EC-P": 35, "EC-G": 35, "EC-A": 8, "EC-M": 8,
                                       "EC-SD": 5, "EC-T": 5, "EC-O": 4}),
}
COUNTRY_WEIGHTS = {"PE": 70, "EC": 30}
SERVICE_OF = {r: org for org, (_, regions) in SERVICES.items() for r in regions}
# unit groups much more frequent than the rest (weights against 1 for every other group)
COMMON_ISCO = {"9112": 400, "5223": 350, "8322": 250, "2221": 200, "3221": 180, "5120": 150,
               "9313": 120, "5131": 120, "7112": 80, "9621": 80, "4110": 70, "5141": 60,
               "8332": 60, "2341": 50, "2211": 40, "5322": 40, "7411": 30, "9211": 30}
HEALTH = ("22", "32")
DEGREE_FIELDS = {"2": ("0913", "0912", "0411", "0311", "0114", "0732", "0613"),
                 "3": ("0913", "0413", "0714", "0732")}
WORK_DOCS = {"PE": (("pe_cpp", True), ("pe_carne_extranjeria", True), ("pe_dni", False)),
             "EC": (("ec_visa_virte", True), ("ec_cedula", False))}
CURRENCY = {"PE": "PEN", "EC": "USD"}
WAGE = {"PE": (1130, 4500), "EC": (470, 1800)}


# --- the mix -------------------------------------------------------------------------------
def unit_groups() -> list[str]:
    data = json.loads((ROOT / "shared" / "isco08.json").read_text(encoding="utf-8"))
    return sorted(g["code"] for g in data["groups"] if g["level"] == "unit")


class Mix:
    """Skewed draws shared by the vacancies and the people (so common jobs meet common
    occupations, as in the employment services' registers)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.codes = unit_groups()
        missing = set(COMMON_ISCO) - set(self.codes)
        if missing:
            raise BenchError(f"not ISCO-08 unit groups: {sorted(missing)}")
        self.weights = [COMMON_ISCO.get(c, 1) for c in self.codes]
        self.cum: list[float] = []
        total = 0.0
        for w in self.weights:
            total += w
            self.cum.append(total)

    def isco(self) -> str:
        return self.rng.choices(self.codes, cum_weights=self.cum)[0]

    def region(self, country: str | None = None) -> str:
        c = country or self.rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]
        regions = {r: w for org, (cc, rs) in SERVICES.items() if cc == c for r, w in rs.items()}
        return self.rng.choices(list(regions), list(regions.values()))[0]


def requirements(isco: str, rng: random.Random) -> dict[str, Any]:
    req: dict[str, Any] = {}
    if rng.random() < 0.7:
        req["work_authorisation"] = True
    health = isco[:2] in HEALTH
    if isco[0] in DEGREE_FIELDS and rng.random() < (0.6 if health else 0.25):
        req["degree"] = {"field_isced": "0913" if isco in ("2221", "3221")
                         else rng.choice(DEGREE_FIELDS[isco[0]])}
    if health and rng.random() < 0.8:
        req["professional_licence"] = {"field_isced": "0913" if isco in ("2221", "3221")
                                       else "0912"}
    if rng.random() < 0.5:
        req["min_experience_years"] = rng.choice((1, 1, 2, 2, 3, 5))
    roll = rng.random()
    if roll < 0.3:
        req["languages"] = [{"code": "es"}]
    elif roll < 0.35:
        req["languages"] = [{"code": "es"}, {"code": "en", "level": "B1"}]
    if rng.random() < 0.03:
        req["certified_skills"] = [{"occupation_isco": isco}]
    return req


def vacancy_item(n: int, region: str, isco: str, rng: random.Random, today: dt.date
                 ) -> dict[str, Any]:
    country = region[:2]
    lo, hi = WAGE[country]
    wage = rng.randrange(lo, hi, 10)
    return {
        "external_id": f"BENCH-{n:07d}", "title": f"Puesto {isco}", "employer_name": "Empresa",
        "occupation_isco": isco, "region": region, "openings": rng.randint(1, 5),
        "formal_contract": rng.random() < 0.7, "wage_min": wage, "wage_max": wage + 300,
        "currency": CURRENCY[country], "hours_per_week": rng.choice((40, 44, 48)),
        "valid_from": (today - dt.timedelta(days=rng.randrange(30))).isoformat(),
        "valid_until": (today + dt.timedelta(days=rng.randint(30, 120))).isoformat(),
        "requirements": requirements(isco, rng)}


# --- the people of the projection -----------------------------------------------------------
def synthetic_person(mix: Mix, today: dt.date) -> dict[str, Any]:
    """One person as the registry's ``/internal/profiles/{id}/matching`` and the credentials
    service's facts describe her (the shape ``projection.store`` keeps)."""
    rng = mix.rng
    region = mix.region()
    country = region[:2]
    occupations = list(dict.fromkeys(mix.isco() for _ in range(rng.choice((1, 1, 2, 3)))))
    experience = []
    if rng.random() < 0.5:
        experience.append({"isco": occupations[0], "years": rng.randint(1, 15)})
    documents = []
    roll = rng.random()
    kind, expires = rng.choice(WORK_DOCS[country])
    if roll < 0.6:
        expiry = (today + dt.timedelta(days=rng.randint(1, 900))).isoformat() if expires \
            else None
        documents.append({"type": kind, "issuing_country": country, "expiry_date": expiry,
                          "authorises_work": True})
    elif roll < 0.8:
        documents.append({"type": WORK_DOCS[country][0][0], "issuing_country": country,
                          "expiry_date": (today - dt.timedelta(days=rng.randint(1, 700))
                                          ).isoformat(), "authorises_work": True})
    credentials = []
    occ = occupations[0]
    if occ[0] in DEGREE_FIELDS and rng.random() < 0.4:
        credentials.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "kind": "academic_degree",
            "status": rng.choices(("recognised", "document_seen", "self_declared", "suspended"),
                                  (50, 30, 15, 5))[0],
            "field_isced": "0913" if occ in ("2221", "3221") else rng.choice(
                DEGREE_FIELDS[occ[0]]), "occupation_isco": occ, "issuer_country": "VE",
            "expires_on": None})
    if occ[:2] in HEALTH and rng.random() < 0.35:
        credentials.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "kind": "professional_licence",
            "status": rng.choices(("verified_with_issuer", "suspended", "document_seen"),
                                  (80, 10, 10))[0],
            "field_isced": "0913" if occ in ("2221", "3221") else "0912",
            "occupation_isco": occ, "issuer_country": country,
            "expires_on": (today + dt.timedelta(days=rng.randint(-200, 900))).isoformat()})
    if rng.random() < 0.03:
        credentials.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "kind": "skills_certification",
            "status": rng.choice(("verified_with_issuer", "document_seen")),
            "field_isced": None, "occupation_isco": occ, "issuer_country": country,
            "expires_on": None})
    roll = rng.random()
    languages = ["es"] if roll < 0.8 else ["es", "en"] if roll < 0.9 else None
    return {"status": "active", "country": country, "region": region,
            "initials": f"{chr(65 + rng.randrange(26))}. {chr(65 + rng.randrange(26))}.",
            "occupations": occupations, "experience": experience,
            "years_experience": rng.randint(0, 20) if rng.random() < 0.6 else None,
            "languages": languages, "documents": documents,
            "job_matching": [{"organisation_id": SERVICE_OF[region], "valid_until": None}],
            "credentials": credentials}


def _table(key: Any) -> str:
    return key if isinstance(key, str) else str(key.__tablename__)


def _copy_value(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, dict | list) else v


async def copy_people(conn: Any, n: int, mix: Mix, today: dt.date) -> dict[str, Any]:
    """``n`` consenting people by COPY, ``CHUNK`` at a time; tables in foreign-key order."""
    from services.referrals.matching.projection import rows_for

    now = dt.datetime.now(dt.UTC)
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for lo in range(0, n, CHUNK):
        rows: dict[str, list[dict[str, Any]]] = {}
        for _ in range(min(CHUNK, n - lo)):
            pid = str(uuid.UUID(int=mix.rng.getrandbits(128), version=4))
            person = {"id": pid, "merged_into": None, **synthetic_person(mix, today)}
            for key, items in rows_for(pid, person, now).items():
                rows.setdefault(_table(key), []).extend(items)
        # the people first (the other tables refer to them), then as rows_for lists them
        for table in sorted(rows, key=lambda t: t != "match_people"):
            if not rows[table]:
                continue
            columns = list(rows[table][0])
            await conn.copy_records_to_table(table, columns=columns, records=[
                tuple(_copy_value(r[c]) for c in columns) for r in rows[table]])
            counts[table] = counts.get(table, 0) + len(rows[table])
        print(f"  {lo + min(CHUNK, n - lo):,} people copied "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    for table in counts:
        await conn.execute(f"VACUUM ANALYZE {table}")
    return {"rows": counts,
            "seconds": round(time.perf_counter() - started, 1)}


# --- vacancies through the API -------------------------------------------------------------
async def bulk_vacancies(client: Any, tokens: dict[str, str], n: int, mix: Mix,
                         today: dt.date, concurrency: int = 2) -> dict[str, Any]:
    """``n`` vacancies by ``POST /v1/vacancies/bulk``, each service its own regions' ones."""
    batches: dict[str, list[dict[str, Any]]] = {org: [] for org in SERVICES}
    for i in range(n):
        region = mix.region()
        batches[SERVICE_OF[region]].append(vacancy_item(i, region, mix.isco(), mix.rng, today))
    jobs = [(org, items[i:i + BATCH]) for org, items in batches.items()
            for i in range(0, len(items), BATCH)]
    mix.rng.shuffle(jobs)
    created: list[dict[str, Any]] = []
    gate = asyncio.Semaphore(concurrency)
    done = 0
    started = time.perf_counter()

    async def post(org: str, items: list[dict[str, Any]]) -> None:
        nonlocal done
        async with gate:
            resp = await client.post("/v1/vacancies/bulk", json={"items": items}, headers={
                "Authorization": f"Bearer {tokens[org]}",
                "Idempotency-Key": f"bench-{uuid.uuid4()}"})
        if resp.status_code != 200:
            raise BenchError(f"bulk {resp.status_code}: {resp.text[:300]}")
        body = resp.json()
        if body["invalid"] or body["created"] != len(items):
            bad = next(r for r in body["results"] if r["status"] != "created")
            raise BenchError(f"bulk item not created: {bad}")
        for r in body["results"]:
            item = items[r["index"]]
            created.append({"id": r["id"], "organisation_id": org, "region": item["region"],
                            "isco": item["occupation_isco"],
                            "requirements": item["requirements"]})
        done += len(items)
        if done % 10_000 < BATCH:
            print(f"  {done:,} vacancies posted ({time.perf_counter() - started:.0f} s)",
                  flush=True)

    await asyncio.gather(*(post(org, items) for org, items in jobs))
    seconds = time.perf_counter() - started
    return {"vacancies": created, "seconds": round(seconds, 1),
            "per_second": round(n / seconds, 1), "batch": BATCH, "concurrency": concurrency}


# --- real people through the API -----------------------------------------------------------
PEOPLE_OCCUPATIONS = ("2221", "3221", "9112", "5223", "8322", "5120", "9313", "5131",
                      "2211", "7112")
SUNEDU = {"body": "SUNEDU", "resolution_number": "012345-2025-SUNEDU/DIGRAT",
          "resolution_date": "2025-05-14"}


async def _credential(client: Any, headers: dict[str, str], body: dict[str, Any],
                      actions: list[dict[str, Any]]) -> None:
    resp = await client.post("/v1/credentials", json=body, headers=headers)
    if resp.status_code != 201:
        raise BenchError(f"credential {resp.status_code}: {resp.text[:300]}")
    cid, etag = resp.json()["id"], resp.headers["etag"]
    for action in actions:
        moved = await client.post(f"/v1/credentials/{cid}/transitions", json=action,
                                  headers={**headers, "If-Match": etag})
        if moved.status_code != 200:
            raise BenchError(f"credential move {moved.status_code}: {moved.text[:300]}")
        etag = moved.headers["etag"]


async def real_people(client: Any, headers: dict[str, str], n: int, rng: random.Random,
                      today: dt.date) -> list[str]:
    """``n`` people through the registry and the credentials service, as a caseworker of
    Lima (so in PE-LMA and PE-CAL), each with occupations in common groups."""
    ids = []
    for i in range(n):
        occ = PEOPLE_OCCUPATIONS[i % len(PEOPLE_OCCUPATIONS)]
        other = rng.choice(PEOPLE_OCCUPATIONS)
        lapsed = i % 5 == 4
        expiry = today + dt.timedelta(days=-40 if lapsed else 400)
        body = {
            "given_names": "Persona", "first_surname": f"Banco{i}", "birth_date": "1990-04-12",
            "sex": "female" if i % 2 else "male", "nationality": "VEN",
            "population_type": "migrant", "region": "PE-LMA" if i % 3 else "PE-CAL",
            "education_level": 6, "occupation_current": occ,
            "occupation_desired": other if other != occ else None,
            "experience": [{"isco": occ, "years": 1 + i % 7}], "years_experience": 2 + i % 9,
            "languages": ["es", "en"] if i % 4 == 0 else ["es"],
            "documents": [] if i % 7 == 6 else [{
                "type": "pe_cpp", "number": f"CPP{rng.randrange(10**9):09d}",
                "expiry_date": expiry.isoformat(), "verification": "seen",
                "authorises_work": True}],
            "consents": [{"purpose": "registration", "evidence": "written",
                          "evidence_reference": f"FORM-BENCH-{i}"}]}
        resp = await client.post("/v1/profiles", json=body, headers=headers)
        if resp.status_code != 201:
            raise BenchError(f"profile {resp.status_code}: {resp.text[:300]}")
        pid = resp.json()["id"]
        ids.append(pid)
        if occ[0] in "23" and i % 2 == 0:
            field = "0913" if occ in ("2221", "3221") else "0912"
            moves: list[dict[str, Any]] = [{"action": "see_document"}]
            if i % 4 == 0:
                moves.append({"action": "recognise", "reason": "Resolución presentada",
                              "recognition": SUNEDU})
            await _credential(client, headers, {
                "profile_id": pid, "kind": "academic_degree", "title": "Título",
                "field_isced": field, "occupation_isco": occ,
                "issuer": {"name": "Universidad Central de Venezuela", "country": "VE"},
                "issued_on": "2014-07-15"}, moves)
        if occ[:2] in HEALTH and i % 3 == 0:
            await _credential(client, headers, {
                "profile_id": pid, "kind": "professional_licence", "title": "Colegiatura",
                "field_isced": "0913" if occ in ("2221", "3221") else "0912",
                "occupation_isco": occ,
                "issuer": {"name": "Colegio profesional", "country": "PE"},
                "issued_on": "2026-01-15"}, [{"action": "verify_with_issuer"}])
        if i % 6 == 1:
            await _credential(client, headers, {
                "profile_id": pid, "kind": "skills_certification", "title": "Certificado",
                "occupation_isco": occ, "skills_certification": {
                    "competency_standard_code": f"NCL-{occ}",
                    "competency_standard_name": "Competencia laboral",
                    "certifying_body": "MTPE", "assessment_date": "2025-03-01"},
                "issuer": {"name": "Centro de certificación", "country": "PE"},
                "issued_on": "2025-03-01"}, [])
    return ids


async def person_facts_as(client: Any, headers: dict[str, str], pid: str) -> Any:
    """The engine's facts of a person read as the caseworker, as the API builds them."""
    from services.referrals.matching.facts import facts_of_profile, person_facts
    from shared.work_authorisation import today_in

    profile = (await client.get(f"/v1/profiles/{pid}", headers=headers)).json()
    creds = (await client.get("/v1/credentials", params={"profile_id": pid, "limit": 200},
                              headers=headers)).json()["items"]
    region = str(profile["region"])
    return person_facts(pid, facts_of_profile(profile, creds), region,
                        today_in(region[:2]))


# --- the raw statements --------------------------------------------------------------------
def compiled(statement: Any) -> str | None:
    """A ranking statement as PostgreSQL text with its values inline; None stays None (a
    person with nothing within reach)."""
    from sqlalchemy.dialects import postgresql

    if statement is None:
        return None
    return str(statement.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"literal_binds": True}))


# --- measuring -----------------------------------------------------------------------------
async def explain(conn: Any, sql: str) -> dict[str, Any]:
    raw = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
    plan = json.loads(raw) if isinstance(raw, str) else raw
    scans = sorted(set(seq_scans(plan)))
    return {"seq_scans": scans, "forbidden": [t for t in scans if t in NO_SEQ_SCAN],
            "execution_ms": plan[0].get("Execution Time"),
            "plan": plan}


async def measure(client: Any, conn: Any, samples: list[dict[str, Any]], kind: str
                  ) -> dict[str, Any]:
    """Each sample: the API call and the raw statement, which one first alternating; their
    ids must agree in order."""
    api_ms: list[float] = []
    raw_ms: list[float] = []
    for i, s in enumerate(samples):
        async def api(s: dict[str, Any] = s) -> tuple[float, list[str]]:
            t = time.perf_counter()
            resp = await client.get(s["url"], params={"limit": TOP}, headers=s["headers"])
            elapsed = (time.perf_counter() - t) * 1000
            if resp.status_code != 200:
                raise BenchError(f"{kind} API {resp.status_code}: {resp.text[:300]}")
            items = resp.json()["items"]
            ids = [it["vacancy"]["id"] if kind == "matches" else it["profile_id"]
                   for it in items]
            return elapsed, ids

        async def raw(s: dict[str, Any] = s) -> tuple[float, list[str]]:
            t = time.perf_counter()
            try:
                rows = await conn.fetch(s["sql"]) if s["sql"] is not None else []
            except Exception as exc:  # asyncpg's errors: say which sample, then stop
                raise BenchError(f"{kind}: the raw statement failed for {s['subject']}: "
                                 f"{type(exc).__name__}: {exc}\n  {s['sql'][:2000]}") from exc
            return (time.perf_counter() - t) * 1000, [str(r[0]) for r in rows]

        if i % 2 == 0:
            (a, api_ids), (r, raw_ids) = await api(), await raw()
        else:
            (r, raw_ids), (a, api_ids) = await raw(), await api()
        if api_ids != raw_ids:
            raise BenchError(
                f"{kind}: the API's top {TOP} differs from the raw statement's for "
                f"{s['subject']}:\n  API {api_ids}\n  raw {raw_ids}")
        api_ms.append(a)
        raw_ms.append(r)
        if (i + 1) % 50 == 0:
            print(f"  {kind}: {i + 1}/{len(samples)}", flush=True)
    api_s, raw_s = latency_summary(api_ms), latency_summary(raw_ms)
    return {"api": api_s, "raw": raw_s,
            "ratio_p95": round(ratio(api_s["p95_ms"], raw_s["p95_ms"]), 2),
            "ratio_p50": round(ratio(api_s["p50_ms"], raw_s["p50_ms"]), 2)}


def embedded_server(urls: dict[str, str], name: str) -> Server:
    return Server(name, "ruta.asgi:embedded", {
        **os.environ, "RUTA_LOG_LEVEL": "WARNING", "RUTA_DATABASE_POOL_SIZE": "5",
        "RUTA_BACKGROUND_TASKS": "false",
        **{f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in urls.items()}}, RESULTS, timeout=60)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import httpx

    import services.referrals.models  # noqa: F401  (first: the matching models import it)
    from services.referrals.matching.engine import VacancyFacts
    from services.referrals.matching.facts import requirements_of
    from services.referrals.matching.ranking_sql import candidates_statement, vacancies_statement
    from services.referrals.matching.rules import load_matching_rules
    from shared.work_authorisation import today_in

    urls = named_urls(args.pg_url, DB_PREFIX)
    await drop_named(args.pg_url, DB_PREFIX)
    print(f"databases {DB_PREFIX}_*: create and migrate")
    await asyncio.wait_for(app.prepare_databases(urls), timeout=300)
    rules = load_matching_rules()
    mix = Mix(random.Random(args.seed))
    today = today_in("PE")  # Lima and Guayaquil share the day
    conn = await asyncpg.connect(asyncpg_dsn(urls["referrals"]))
    try:
        print(f"{args.people:,} consenting people into the candidates projection by COPY")
        people = await copy_people(conn, args.people, mix, today)
    finally:
        await conn.close()

    callers = {org: identity_for("provider", subject=f"system-{org}", org=org,
                                 regions=sorted(regions))
               for org, (_, regions) in SERVICES.items()}
    callers["caseworker"] = identity_for("caseworker", subject="bench-caseworker")
    tokens = await mint_tokens(urls["gateway"], callers)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    caseworker = {"Authorization": f"Bearer {tokens['caseworker']}"}
    with embedded_server(urls, f"matching-{stamp}-server") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
            print(f"{args.vacancies:,} vacancies through POST /v1/vacancies/bulk")
            posted = await bulk_vacancies(client, tokens, args.vacancies, mix, today)
            print(f"  {posted['per_second']:,.0f} vacancies/s")
            print(f"{args.real_people} people through the registry and credentials API")
            pids = await real_people(client, caseworker, args.real_people, mix.rng, today)
            conn = await asyncpg.connect(asyncpg_dsn(urls["referrals"]))
            try:
                await conn.execute("VACUUM ANALYZE vacancies")
                # a person's matches: the real people in turn
                facts = {pid: await person_facts_as(client, caseworker, pid) for pid in pids}
                matches = [{"subject": f"profile {pid}", "headers": caseworker,
                            "url": f"/v1/profiles/{pid}/vacancy-matches",
                            "sql": compiled(vacancies_statement(
                                rules=rules, person=facts[pid], day=today_in("PE"),
                                limit=TOP))}
                           for pid in (pids[i % len(pids)] for i in range(args.samples))]
                # a vacancy's candidates: vacancies drawn from those posted (skewed as they are)
                pool = posted["vacancies"]
                now = dt.datetime.now(dt.UTC)
                candidates = []
                for v in (mix.rng.choice(pool) for _ in range(args.samples)):
                    vf = VacancyFacts(id=v["id"], isco=v["isco"], country=v["region"][:2],
                                      region=v["region"],
                                      requirements=requirements_of(v["requirements"]))
                    candidates.append({
                        "subject": f"vacancy {v['id']} ({v['isco']}, {v['region']})",
                        "headers": {"Authorization": f"Bearer {tokens[v['organisation_id']]}"},
                        "url": f"/v1/vacancies/{v['id']}/candidates",
                        "sql": compiled(candidates_statement(
                            rules=rules, vacancy=vf, organisation_id=v["organisation_id"],
                            day=today_in(vf.country), now=now, limit=TOP))})
                # warm-up: one of each, both sides
                for s in (matches[0], candidates[0]):
                    await client.get(s["url"], headers=s["headers"])
                    if s["sql"]:
                        await conn.fetch(s["sql"])
                print(f"measuring {args.samples} samples of each read")
                timed = {"matches": await measure(client, conn, matches, "matches"),
                         "candidates": await measure(client, conn, candidates, "candidates")}
                plans = {kind: [{"subject": s["subject"], **await explain(conn, s["sql"])}
                                for s in [s for s in batch if s["sql"]][:EXPLAINED]]
                         for kind, batch in (("matches", matches), ("candidates", candidates))}
            finally:
                await conn.close()
    plan_file = write_results("matching-plans", plans, when=stamp)
    return {"people": args.people, "vacancies": args.vacancies, "samples": args.samples,
            "projection": people,
            "bulk": {k: v for k, v in posted.items() if k != "vacancies"},
            "real_people": len(pids), **timed,
            "explain": {kind: [{k: p[k] for k in ("subject", "seq_scans", "forbidden",
                                                  "execution_ms")} for p in ps]
                        for kind, ps in plans.items()},
            "plans_file": str(Path(plan_file).name), "stamp": stamp}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=1_000_000)
    p.add_argument("--vacancies", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=200, help="per read, each side")
    p.add_argument("--real-people", type=int, default=20)
    p.add_argument("--seed", type=int, default=20261204)
    add_pg_url_option(p)
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = p.parse_args()
    started = time.perf_counter()
    try:
        out = run_on_named(run(args), args.pg_url, DB_PREFIX, keep=args.keep)
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    if out is None:
        return 2
    checks = []
    for kind, what in (("matches", "a person's matches"), ("candidates", "a vacancy's "
                                                                          "candidates")):
        m = out[kind]
        checks.append((f"{what}: API p95 <= {TARGET:g}x raw p95", m["ratio_p95"] <= TARGET,
                       f"API p50 {m['api']['p50_ms']:.1f} / p95 {m['api']['p95_ms']:.1f} ms; "
                       f"raw p50 {m['raw']['p50_ms']:.1f} / p95 {m['raw']['p95_ms']:.1f} ms; "
                       f"ratio {m['ratio_p95']:.2f}"))
        bad = sorted({t for p in out["explain"][kind] for t in p["forbidden"]})
        checks.append((f"{what}: raw EXPLAIN, no Seq Scan on the tables read",
                       not bad, f"seq scans on {', '.join(bad)}" if bad else
                       f"{len(out['explain'][kind])} plans"))
    print(f"\nmatching benchmark — {out['people']:,} people, {out['vacancies']:,} vacancies "
          f"(bulk {out['bulk']['per_second']:,.0f}/s)")
    failed = print_checks("check", checks)
    out["checks"] = [{"check": c, "pass": ok, "detail": d} for c, ok, d in checks]
    out["pass"] = failed == 0
    out["machine"] = machine_info()
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(f"results: {write_results('matching', out, when=out['stamp'])}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
