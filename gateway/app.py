from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, JSONResponse

from gateway.auth import TokenVerifier
from gateway.openapi import merge_openapi
from gateway.proxy import ProxyMiddleware
from gateway.routing import RouteTable
from gateway.upstreams import HTTPUpstream, Upstream
from shared.db import Database
from shared.errors import install_error_handlers
from shared.http import install_openapi
from shared.identity import AssertionSigner
from shared.observability import RequestContextMiddleware, install_health
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Upstream] = []
        try:
            for upstream in ups.values():
                await upstream.startup()
                started.append(upstream)
            yield
        finally:
            for upstream in reversed(started):
                await upstream.shutdown()
            if db.root is db:
                await db.dispose()

    app = FastAPI(title="Ruta de Empleabilidad API", version="1.0.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.db = db
    app.state.upstreams = ups
    app.state.verifier = TokenVerifier(settings)
    app.state.assertion_signer = AssertionSigner(settings.internal_secret,
                                                 settings.identity_assertion_ttl_seconds)
    install_error_handlers(app)
    install_health(app, {"database": db.ping})
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
        ProxyMiddleware, routes=routes, upstreams=ups, verifier=app.state.verifier,
        signer=app.state.assertion_signer, max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(RequestContextMiddleware, service="gateway")
    return app
