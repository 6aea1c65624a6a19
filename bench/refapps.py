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
