"""Reference apps for the benchmarks: the floors the real system is measured against.

Served by uvicorn like the system (uvloop + httptools, one worker, no access log):

    uvicorn --app-dir bench --factory refapps:ping      # reference A: bare GET /ping
    uvicorn --app-dir bench --factory refapps:pk_read   # reference B: raw asyncpg PK read

``pk_read`` also answers the gateway's path ``/v1/profiles/{id}`` (it ignores the identity
header), so a gateway can be put in front of it to measure the hop over the floor.

``pk_read`` reads ``RUTA_BENCH_REF_DSN`` (a plain ``postgresql://`` DSN to the registry
database) and ``RUTA_BENCH_REF_POOL`` (pool size; smoke.py passes the services'
``RUTA_DATABASE_POOL_SIZE``, so both sides hold as many connections).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from kit import app as system  # the application's names (``app`` is a FastAPI here)
from starlette.requests import Request
from starlette.responses import Response

# The system under test turns FastAPI's native telemetry off; so do its floors.
NO_TELEMETRY = system.NO_NATIVE_TELEMETRY

PK_SQL = (
    "SELECT id, organisation_id, given_names, first_surname, second_surname, birth_date, sex,"
    " nationality, population_type, country, region, status, created_at, updated_at, version"
    " FROM profiles WHERE id = $1"
)


def _health(app: FastAPI) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _same_runtime(app: FastAPI) -> FastAPI:
    """The system's processes tune the garbage collector (ruta.asgi.tune_gc); so do the
    floors, so a ratio measures the work, not the runtime settings."""
    system.tune_gc()
    return app


def ping() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=NO_TELEMETRY)
    _health(app)

    @app.get("/ping")
    async def ping_() -> dict[str, str]:
        return {"ping": "pong"}

    return _same_runtime(app)


def pk_read() -> FastAPI:
    dsn = os.environ["RUTA_BENCH_REF_DSN"]
    max_size = int(os.environ.get("RUTA_BENCH_REF_POOL", "20"))
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=max_size, max_size=max_size)
        state["pool"] = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan,
                  telemetry=NO_TELEMETRY)
    _health(app)

    @app.get("/profiles/{profile_id}")
    @app.get("/v1/profiles/{profile_id}")  # the gateway's path, to put the gateway in front
    async def read(profile_id: str) -> Response:
        row = await state["pool"].fetchrow(PK_SQL, profile_id)
        if row is None:
            return Response(b'{"status":404}', status_code=404, media_type="application/json")
        return Response(orjson.dumps(dict(row)), media_type="application/json")

    return _same_runtime(app)


# --------------------------------------------------------------------------- the mix floor
# Each operation of bench/load.py's mix as its essential statements on the system's own
# databases and tables (issue 22 item 1), no authentication, policy, limits, ORM or peer
# call. The caller is fixed: the load's caseworker / NGO (ong-lima) and provider / ministry
# (mtpe-empleo); catalogue rows are read once at start (reference data).
CALLER_ORG, PROVIDER_ORG = "ong-lima", "mtpe-empleo"
CALLER_REGIONS = ["PE-LMA"]  # the load's caseworker is limited to Lima (bench/load.py)
# The caller may see only what the registry's visibility rule lets it (the rule's own SQL
# text, services/registry/access.py): $2 organisation, $3 regions, $4 now.
FLOOR_VISIBLE = system.registry_access.visible_sql(
    org="$2::varchar", provider="false", regions="$3::varchar[]", now="$4::timestamptz")
# One name: pg_trgm over the whole key, as the system's statement (``name_candidates``).
FLOOR_SEARCH = (
    "SELECT p.id, p.search_key FROM profiles p"
    " WHERE (p.search_key % $1::varchar OR p.search_key %> $1::varchar)"
    f" AND p.status = 'active' AND {FLOOR_VISIBLE}"
    " ORDER BY similarity($1::varchar, p.search_key)"
    " + word_similarity($1::varchar, p.search_key) DESC"
    f" LIMIT {system.registry_search.CANDIDATE_LIMIT}")
# Names of two tokens or more: the system's selective path (services/registry/repository.py,
# ``token_candidates``): each token's closest spellings among the tokens people carry, then the
# profiles whose key tokens overlap every token's spellings (GIN over the key's tokens).
FLOOR_SPELLINGS = (
    "SELECT q.tok, s.token FROM unnest($1::text[]) AS q(tok)"
    " CROSS JOIN LATERAL (SELECT n.token FROM name_tokens n WHERE n.token % q.tok"
    " ORDER BY similarity(n.token, q.tok) DESC, n.token"
    f" LIMIT {system.registry_search.SPELLINGS_PER_TOKEN}) s")


def floor_token_search(n_tokens: int) -> str:
    """The candidates carrying every one of ``n_tokens`` tokens ($5..), as FLOOR_SEARCH's
    placeholders otherwise."""
    carries = " AND ".join(f"string_to_array(p.search_key, ' ') && ${i + 5}::text[]"
                           for i in range(n_tokens))
    return ("SELECT p.id, p.search_key FROM profiles p"
            f" WHERE {carries} AND p.status = 'active' AND {FLOOR_VISIBLE}"
            " ORDER BY similarity($1::varchar, p.search_key) DESC"
            f" LIMIT {system.registry_search.CANDIDATE_LIMIT}")


FLOOR_SUMMARIES_AUDITED = (
    "WITH a AS (INSERT INTO audit_log (profile_id, at, action, actor_subject, actor_role,"
    " actor_organisation_id, fields, request_id)"
    " SELECT id, $2, 'search', 'floor', 'caseworker', $3, '[\"identity\"]'::json, NULL"
    " FROM unnest($1::varchar[]) id RETURNING 1)"
    " SELECT id, organisation_id, status, version, given_names, first_surname,"
    " second_surname, birth_date, sex, nationality, population_type, region,"
    " (SELECT count(*) FROM a) AS audited FROM profiles WHERE id = ANY($1::varchar[])")
FLOOR_CONSENT = (
    "SELECT p.id, p.organisation_id, p.region, (SELECT c.id FROM consents c"
    " WHERE c.profile_id = p.id AND c.purpose = 'referral' AND c.status = 'granted'"
    " AND c.recipient_organisation_id = $2 AND (c.programme_id IS NULL OR c.programme_id = $3)"
    " AND (c.valid_until IS NULL OR c.valid_until > now())"
    " ORDER BY c.recorded_at DESC LIMIT 1) AS consent_id"
    " FROM profiles p WHERE p.id = $1 AND p.status = 'active'")
FLOOR_REPLAY = ("SELECT status_code, headers, body FROM idempotency_records"
                " WHERE client_id = $1 AND key = $2")
FLOOR_INSERT_REFERRAL = (
    "INSERT INTO referrals (id, profile_id, profile_organisation_id, region, country,"
    " programme_id, route_type, outcome_kind, provider_id, provider_organisation_id,"
    " referring_organisation_id, referring_subject, status, open_key, notes, consent_id,"
    " due_accept_at, due_complete_at, created_at, updated_at, version)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'floor', 'requested',"
    " $17, $12, $13, $14, $15, $16, $16, 1)")
FLOOR_HISTORY = (
    "INSERT INTO referral_transitions (referral_id, action, from_status, to_status, actor,"
    " actor_role, actor_organisation_id, occurred_at) VALUES ($1, $2, $3, $4, 'floor', $5,"
    " $6, $7)")
FLOOR_OUTBOX = (
    "INSERT INTO outbox_events (event_id, type, occurred_at, subject_type, subject_id,"
    " subject_version, organisation_id, regions, data)"
    " VALUES ($1, $2, $3, 'referral', $4, $5, $6, $7::json, $8::json)")
FLOOR_REMEMBER = (
    "INSERT INTO idempotency_records (client_id, key, fingerprint, status_code, headers, body,"
    " created_at, expires_at) VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8)")
FLOOR_ACCEPT = (
    "UPDATE referrals SET status = 'accepted', accepted_at = $2, updated_at = $2,"
    " due_complete_at = $3, version = version + 1"
    " WHERE id = $1 AND version = $4 AND status = 'requested'"
    " RETURNING version, region, referring_organisation_id, profile_id, programme_id")
FLOOR_FEED = (
    "SELECT e.position, e.event_id, e.type, e.occurred_at, e.subject_type, e.subject_id,"
    " e.subject_version, e.organisation_id, e.regions, e.data FROM events e"
    " JOIN event_audience a ON a.position = e.position AND a.organisation_id = $2"
    " WHERE e.position > $1 ORDER BY e.position LIMIT $3")


def mix_floor() -> FastAPI:
    """The floor of every operation of the mix (bench/load.py), on the paths the system
    answers: ``RUTA_BENCH_REF_DSN`` (registry), ``RUTA_BENCH_REF_REFERRALS_DSN``,
    ``RUTA_BENCH_REF_GATEWAY_DSN`` and ``RUTA_BENCH_REF_POOL`` (each pool's size)."""
    import datetime as dt
    import hashlib
    import uuid

    dsns = {"registry": os.environ["RUTA_BENCH_REF_DSN"],
            "referrals": os.environ["RUTA_BENCH_REF_REFERRALS_DSN"],
            "gateway": os.environ["RUTA_BENCH_REF_GATEWAY_DSN"]}
    size = int(os.environ.get("RUTA_BENCH_REF_POOL", "20"))
    pools: dict[str, Any] = {}
    routes: dict[tuple[str, str], Any] = {}
    search = system.registry_search

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name, dsn in dsns.items():
            # The system reads a profile on the direct asyncpg pool of its hot reads and
            # searches on SQLAlchemy's, two pools of this size on the registry's database:
            # the floor's registry pool has as many connections (with one pool, its
            # searches held every connection and its reads queued behind them, a floor
            # slower than the system).
            n = 2 * size if name == "registry" else size
            pools[name] = await asyncpg.create_pool(dsn, min_size=n, max_size=n)
        async with pools["referrals"].acquire() as conn:  # reference data, read once
            for row in await conn.fetch(
                    "SELECT g.id AS programme_id, g.country, g.route_type, v.id AS provider_id,"
                    " v.organisation_id FROM programmes g, providers v"):
                routes[(row["programme_id"], row["provider_id"])] = dict(row)
        try:
            yield
        finally:
            for pool in pools.values():
                await pool.close()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan,
                  telemetry=NO_TELEMETRY)
    _health(app)

    def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                      ) -> Response:
        return Response(orjson.dumps(data), status_code=status, headers=headers,
                        media_type="application/json")

    @app.get("/v1/profiles/{profile_id}")
    async def read(profile_id: str) -> Response:
        now = dt.datetime.now(dt.UTC)
        rows = await pools["registry"].fetch(
            system.PG_READ_AUDITED, profile_id, now, "floor", "caseworker", CALLER_ORG,
            '["identity","contact"]', None, [])
        if not rows:
            return json_response({"status": 404}, 404)
        body = dict(rows[0])
        body["documents"] = [{"id": r["d_id"], "type": r["d_type"], "number": r["d_number"]}
                             for r in rows if r["d_id"] is not None]
        return json_response(body)

    @app.get("/v1/profiles")
    async def find(q: str, limit: int = 20) -> Response:
        key = search.normalise(q) or ""
        now = dt.datetime.now(dt.UTC)
        async with pools["registry"].acquire() as conn:
            candidates: list[Any] = []
            typed = sorted(set(search.tokens(key)))
            if len(typed) >= 2:  # the selective path, as the system takes it
                spellings: dict[str, set[str]] = {}
                for tok, alt in await conn.fetch(FLOOR_SPELLINGS, typed):
                    spellings.setdefault(tok, {tok}).add(alt)
                if len(spellings) >= 2:
                    candidates = await conn.fetch(
                        floor_token_search(len(spellings)), key, CALLER_ORG, CALLER_REGIONS,
                        now, *[sorted(alts) for _, alts in sorted(spellings.items())])
            if not candidates:  # one token: trigrams over the whole key
                candidates = await conn.fetch(FLOOR_SEARCH, key, CALLER_ORG, CALLER_REGIONS,
                                              now)
            ranked = search.rank(key, [(r["id"], r["search_key"]) for r in candidates])
            page = [pid for _, pid in ranked[:limit]]
            rows = {r["id"]: dict(r) for r in await conn.fetch(
                FLOOR_SUMMARIES_AUDITED, page, now, CALLER_ORG)} if page else {}
        items = [{**rows[pid], "score": s} for s, pid in ranked[:limit] if pid in rows]
        return json_response({"items": items, "next_cursor": None})

    @app.post("/v1/referrals")
    async def refer(request: Request) -> Response:
        key = request.headers["idempotency-key"]
        raw = await request.body()
        async with pools["referrals"].acquire() as conn:
            stored = await conn.fetchrow(FLOOR_REPLAY, "floor-ngo", key)
        if stored is not None:
            return Response(stored["body"], status_code=stored["status_code"],
                            headers=orjson.loads(stored["headers"]),
                            media_type="application/json")
        data = orjson.loads(raw)
        route = routes[(data["programme_id"], data["provider_id"])]
        person = await pools["registry"].fetchrow(
            FLOOR_CONSENT, data["profile_id"], route["organisation_id"],
            route["programme_id"])
        if person is None or person["consent_id"] is None:
            return json_response({"status": 422}, 422)
        now = dt.datetime.now(dt.UTC)
        rid = str(uuid.uuid4())
        out = {"id": rid, "profile_id": person["id"], "programme_id": route["programme_id"],
               "provider_id": route["provider_id"], "status": "requested", "version": 1}
        body = orjson.dumps(out)
        headers = {"ETag": '"v1"', "Location": f"/v1/referrals/{rid}"}
        async with pools["referrals"].acquire() as conn, conn.transaction():
            await conn.execute(
                FLOOR_INSERT_REFERRAL, rid, person["id"], person["organisation_id"],
                person["region"], route["country"], route["programme_id"],
                route["route_type"], "employment", route["provider_id"],
                route["organisation_id"], CALLER_ORG, data.get("notes"),
                person["consent_id"], now + dt.timedelta(days=5),
                now + dt.timedelta(days=35), now, f"{person['id']}:{route['programme_id']}")
            await conn.execute(FLOOR_HISTORY, rid, "create", None, "requested",
                               "ngo_partner", CALLER_ORG, now)
            await conn.execute(FLOOR_OUTBOX, str(uuid.uuid4()), "referral.created", now, rid,
                               1, CALLER_ORG, orjson.dumps([person["region"]]).decode(),
                               orjson.dumps({"status": "requested"}).decode())
            await conn.execute(FLOOR_REMEMBER, "floor-ngo", key,
                               hashlib.sha256(raw).hexdigest(), 201,
                               orjson.dumps(headers).decode(), body, now,
                               now + dt.timedelta(hours=24))
        return Response(body, status_code=201, headers=headers, media_type="application/json")

    @app.post("/v1/referrals/{referral_id}/transitions")
    async def accept(referral_id: str, request: Request) -> Response:
        version = int(request.headers["if-match"].strip('"v'))
        now = dt.datetime.now(dt.UTC)
        async with pools["referrals"].acquire() as conn, conn.transaction():
            row = await conn.fetchrow(FLOOR_ACCEPT, referral_id, now,
                                      now + dt.timedelta(days=30), version)
            if row is None:
                return json_response({"status": 412}, 412)
            await conn.execute(FLOOR_HISTORY, referral_id, "accept", "requested", "accepted",
                               "provider", PROVIDER_ORG, now)
            await conn.execute(FLOOR_OUTBOX, str(uuid.uuid4()), "referral.status_changed", now,
                               referral_id, row["version"], row["referring_organisation_id"],
                               orjson.dumps([row["region"]]).decode(),
                               orjson.dumps({"from": "requested", "to": "accepted"}).decode())
        return json_response({"id": referral_id, "status": "accepted",
                              "version": row["version"]},
                             headers={"ETag": f'"v{row["version"]}"'})

    @app.get("/v1/events")
    async def feed(limit: int = 100, cursor: str | None = None) -> Response:
        after = int(cursor) if cursor else 0
        rows = await pools["gateway"].fetch(FLOOR_FEED, after, PROVIDER_ORG, limit)
        items = [dict(r) for r in rows]
        return json_response({"items": items,
                              "next_cursor": str(items[-1]["position"] if items else after)})

    return _same_runtime(app)


# --------------------------------------------------------------------------- the bare proxy
def proxy() -> Any:
    """The hop's floor (issue 22): the gateway's own forwarding (gateway.edge.upstreams.
    HTTPUpstream: its HTTP/1.1 client, keep-alive pool, same settings) as a bare ASGI app — no front
    door (authentication, policy, limits), no middleware — to ``RUTA_BENCH_UPSTREAM``; the
    caller's headers pass through unchanged."""
    settings = system.Settings()
    upstream = system.HTTPUpstream(
        "registry", os.environ["RUTA_BENCH_UPSTREAM"],
        timeout=settings.upstream_timeout_seconds,
        connect_timeout=settings.upstream_connect_timeout_seconds,
        pool_size=settings.upstream_pool_size)
    health = Response(b'{"status":"ok"}', media_type="application/json")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await upstream.startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await upstream.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["path"] == "/healthz":
            await health(scope, receive, send)
        else:
            await upstream.forward(scope, receive, send)

    system.tune_gc()
    return app
