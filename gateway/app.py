from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, JSONResponse

from gateway.api import admin, oauth
from gateway.events import EventHub
from gateway.events_api import router as events_router
from gateway.frontdoor import FrontDoor
from gateway.openapi import merge_openapi
from gateway.ratelimit import make_limiter, parse_quotas
from gateway.routing import RouteTable
from gateway.service import ensure_bootstrap_admin
from gateway.subscriptions import endpoint_disabled_event
from gateway.tokens import KeyStore, TokenVerifier, ensure_signing_key
from gateway.upstreams import ASGIUpstream, HTTPUpstream, Upstream
from gateway.webhooks import DeliveryWorker, start_event_tasks
from shared.db import Database
from shared.errors import install_error_handlers
from shared.http import NO_NATIVE_TELEMETRY, install_openapi
from shared.identity import AssertionSigner
from shared.observability import RequestContextMiddleware, install_health
from shared.pagination import CursorCodec
from shared.peers import Peers
from shared.settings import SERVICES, Settings


def http_upstreams(settings: Settings) -> dict[str, Upstream]:
    out: dict[str, Upstream] = {}
    for name in SERVICES:
        url = settings.upstream_url(name)
        if url:
            out[name] = HTTPUpstream(
                name, url, timeout=settings.upstream_timeout_seconds,
                connect_timeout=settings.upstream_connect_timeout_seconds,
                pool_size=settings.upstream_pool_size)
    return out


def create_app(
    settings: Settings,
    database: Database | None = None,
    upstreams: dict[str, Upstream] | None = None,
) -> FastAPI:
    """The public entry point. ``upstreams`` are in-process apps (embedded) or, by default,
    the service URLs from settings (distributed)."""
    db = database or Database(settings.database_url("gateway"),
                              pool_size=settings.database_pool_size,
                              idempotency_ttl_hours=settings.idempotency_ttl_hours)
    ups = upstreams if upstreams is not None else http_upstreams(settings)
    routes = RouteTable()
    keys = KeyStore(db, settings)
    verifier = TokenVerifier(settings, keys)
    limiter = make_limiter(settings.redis_url)

    peers = Peers(settings)
    peers.bind_apps({n: u.app for n, u in ups.items() if isinstance(u, ASGIUpstream)})
    hub = EventHub(db, peers, ups.keys())
    worker = DeliveryWorker(db, settings, emit_disabled=endpoint_disabled_event)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Upstream] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            await ensure_signing_key(db, settings)
            await ensure_bootstrap_admin(db=db, settings=settings)
            await keys.refresh(force=True)
            for upstream in ups.values():
                await upstream.startup()
                started.append(upstream)
            if settings.background_tasks:
                tasks = start_event_tasks(settings, worker, hub)
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await worker.close()
            await peers.close()
            for upstream in reversed(started):
                await upstream.shutdown()
            await verifier.close()
            await limiter.close()
            if db.root is db:
                await db.dispose()

    app = FastAPI(title="Ruta de Empleabilidad API", version="1.0.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  telemetry=NO_NATIVE_TELEMETRY)
    app.state.settings = settings
    app.state.db = db
    app.state.upstreams = ups
    app.state.keys = keys
    app.state.peers = peers
    app.state.hub = hub
    app.state.worker = worker
    app.state.verifier = verifier
    app.state.cursors = CursorCodec(settings.cursor_secret)
    app.state.assertion_signer = AssertionSigner(settings.internal_secret,
                                                 settings.identity_assertion_ttl_seconds)
    install_error_handlers(app)
    install_health(app, {"database": db.ping})
    app.include_router(oauth)
    app.include_router(admin)
    app.include_router(events_router)
    install_openapi(app)
    merged: dict[str, Any] = {}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        if not merged:
            docs = {name: await up.openapi() for name, up in ups.items()}
            merged.update(merge_openapi(app.openapi(), docs, routes))
        return JSONResponse(merged)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Ruta de Empleabilidad")

    app.add_middleware(
        FrontDoor, routes=routes, upstreams=ups, verifier=verifier,
        signer=app.state.assertion_signer, limiter=limiter,
        quotas=parse_quotas(settings.rate_limits), max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    app.add_middleware(RequestContextMiddleware, service="gateway")
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match",
                           "Accept-Language", "X-Request-ID"],
            expose_headers=["ETag", "Location", "X-Request-ID", "RateLimit",
                            "RateLimit-Policy", "Retry-After", "Idempotent-Replayed"],
            max_age=600)
    return app
