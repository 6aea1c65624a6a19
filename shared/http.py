"""What every service app shares: the app factory, common dependencies and response helpers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.openapi.utils import get_openapi
from fastapi.telemetry import TelemetryConfig
from pydantic import BeforeValidator
from starlette.responses import Response

from shared.clients import Peers
from shared.db import Database, IdempotencyKey, StoredResponse
from shared.errors import PROBLEM_SCHEMA, install_error_handlers
from shared.identity import AssertionSigner, CurrentIdentity
from shared.observability import RequestContextMiddleware, install_health
from shared.pagination import CursorCodec
from shared.settings import Settings

# FastAPI's native OpenTelemetry hooks look up three global providers on every request of every
# app (two apps per request in the embedded shape). Metrics and the access log are ours
# (shared/observability.py); set them on only together with an OpenTelemetry exporter.
NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: Any) -> Any:
    # pydantic's lax mode reads ``0`` or ``1700000000`` as a date (a Unix time): a filter
    # must be an ISO 8601 calendar date or a 422, as the OpenAPI says
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date (YYYY-MM-DD)")
    return value


# A date in a query string: YYYY-MM-DD only.
IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


# Dependencies are ``async def`` even when trivial: FastAPI runs a plain ``def`` dependency
# in its thread pool, a thread hop per dependency per request (measured by make bench).
async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_peers(request: Request) -> Peers:
    return request.app.state.peers


async def get_cursors(request: Request) -> CursorCodec:
    return request.app.state.cursors


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CursorsDep = Annotated[CursorCodec, Depends(get_cursors)]
PeersDep = Annotated[Peers, Depends(get_peers)]


IdempotencyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$",
           description="Makes the write safe to retry: the same key and body replay the "
                       "first response for 24 h; the same key with another body is 422; "
                       "while the first is still running, 409."),
]


async def idempotency_for(request: Request, subject: str, key: str | None
                          ) -> IdempotencyKey | None:
    """The caller's key for this write, fingerprinted with method, path and body."""
    if key is None:
        return None
    body = await request.body()
    return IdempotencyKey(
        client_id=subject, key=key,
        fingerprint=IdempotencyKey.fingerprint_of(request.method, request.url.path, body),
    )


async def idempotency_key(request: Request, identity: CurrentIdentity,
                          key: IdempotencyHeader = None) -> IdempotencyKey | None:
    return await idempotency_for(request, identity.subject, key)


Idempotency = Annotated[IdempotencyKey | None, Depends(idempotency_key)]


def respond(stored: StoredResponse) -> Response:
    headers = dict(stored.headers)
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(stored.body, status_code=stored.status_code, headers=headers,
                    media_type="application/json")


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: Settings,
    database: Database,
    routers: Sequence[APIRouter],
    version: str = "1.0.0",
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.peers.close()
        if database.root is database:
            await database.dispose()

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  docs_url="/docs", redoc_url=None, telemetry=NO_NATIVE_TELEMETRY)
    app.state.settings = settings
    app.state.db = database
    app.state.service_name = name
    app.state.assertion_signer = AssertionSigner(
        settings.internal_secret, settings.identity_assertion_ttl_seconds
    )
    app.state.cursors = CursorCodec(settings.cursor_secret)
    app.state.peers = Peers(settings)
    install_error_handlers(app)
    install_health(app, {"database": database.ping})
    for router in routers:
        app.include_router(router)
    from shared.events import outbox_router  # shared.events needs this module's deps

    app.include_router(outbox_router())
    app.add_middleware(RequestContextMiddleware, service=name)
    install_openapi(app)
    return app


def install_openapi(app: FastAPI) -> None:
    """Adds the Problem schema and bearer security scheme to the generated document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        components = doc.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components.setdefault("securitySchemes", {})["bearerAuth"] = {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        }
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
