"""The gateway's composition: its parts built once from settings, started and stopped with
the app, and put in front of the services in order (front door, request context, CORS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from gateway.edge.frontdoor import FrontDoor
from gateway.edge.openapi import install_merged_docs
from gateway.edge.ratelimit import Limiter, make_limiter, parse_quotas
from gateway.edge.readiness import OPTIONAL, readiness_checks
from gateway.edge.routing import RouteTable
from gateway.edge.upstreams import (
    ASGIUpstream,
    Upstream,
    http_upstreams,
    in_process_databases,
)
from gateway.events.api import router as events_router
from gateway.events.catalogue_api import router as event_types_router
from gateway.events.delivery_worker import DeliveryWorker, start_event_tasks
from gateway.events.hub import EventHub
from gateway.events.subscriptions import endpoint_disabled_event
from gateway.identity.api import admin, oauth
from gateway.identity.keys import KeyStore, ensure_signing_key
from gateway.identity.machine_clients import ensure_bootstrap_admin
from gateway.identity.tokens import TokenVerifier
from gateway.retention import purge_task
from shared.db import Database
from shared.docs import install_docs
from shared.errors import install_error_handlers
from shared.http import NO_NATIVE_TELEMETRY, install_openapi
from shared.identity import AssertionSigner
from shared.observability import RequestContextMiddleware, install_health
from shared.pagination import CursorCodec
from shared.peers import Peers
from shared.settings import Settings
from shared.tracing import instrument_app


@dataclass
class GatewayParts:
    """Everything the gateway holds for its lifetime, made once per app."""

    settings: Settings
    db: Database
    upstreams: dict[str, Upstream]
    routes: RouteTable
    keys: KeyStore
    verifier: TokenVerifier
    limiter: Limiter
    peers: Peers
    hub: EventHub
    worker: DeliveryWorker
    signer: AssertionSigner


def build_parts(settings: Settings, database: Database | None,
                upstreams: dict[str, Upstream] | None) -> GatewayParts:
    db = database or Database(settings.database_url("gateway"),
                              pool_size=settings.database_pool_size,
                              idempotency_ttl_hours=settings.idempotency_ttl_hours)
    ups = upstreams if upstreams is not None else http_upstreams(settings)
    keys = KeyStore(db, settings)
    peers = Peers(settings)
    peers.bind_apps({n: u.app for n, u in ups.items() if isinstance(u, ASGIUpstream)})
    return GatewayParts(
        settings=settings, db=db, upstreams=ups, routes=RouteTable(), keys=keys,
        verifier=TokenVerifier(settings, keys), limiter=make_limiter(settings.redis_url),
        peers=peers, hub=EventHub(db, peers, ups.keys()),
        worker=DeliveryWorker(db, settings, emit_disabled=endpoint_disabled_event),
        signer=AssertionSigner(settings.internal_secret,
                               settings.identity_assertion_ttl_seconds))


def lifespan_of(parts: GatewayParts
                ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[Upstream] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            tasks = await start_gateway(parts, started)
            yield
        finally:
            await stop_gateway(parts, started, tasks)

    return lifespan


async def start_gateway(parts: GatewayParts, started: list[Upstream]
                        ) -> list[asyncio.Task[None]]:
    """Signing key, bootstrap admin and key cache, then the upstreams, then the event hub
    and delivery worker where this process runs them (``background_tasks``). ``started``
    collects the upstreams started, so a failure stops only those. Returns the background
    tasks to cancel at shutdown."""
    settings, db = parts.settings, parts.db
    await ensure_signing_key(db, settings)
    await ensure_bootstrap_admin(db=db, settings=settings)
    await parts.keys.refresh(force=True)
    for upstream in parts.upstreams.values():
        await upstream.startup()
        started.append(upstream)
    if settings.background_tasks:
        return [*start_event_tasks(settings, parts.worker, parts.hub),
                *purge_task(settings, {"gateway": db, **in_process_databases(parts.upstreams)})]
    return []


async def stop_gateway(parts: GatewayParts, started: list[Upstream],
                       tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await parts.worker.close()
    await parts.peers.close()
    for upstream in reversed(started):
        await upstream.shutdown()
    await parts.verifier.close()
    await parts.limiter.close()
    if parts.db.root is parts.db:
        await parts.db.dispose()


def publish_state(app: FastAPI, parts: GatewayParts) -> None:
    """What routes, tests and the embedded shape reach through ``app.state``."""
    app.state.settings = parts.settings
    app.state.db = parts.db
    app.state.upstreams = parts.upstreams
    app.state.keys = parts.keys
    app.state.peers = parts.peers
    app.state.hub = parts.hub
    app.state.worker = parts.worker
    app.state.verifier = parts.verifier
    app.state.cursors = CursorCodec(parts.settings.cursor_secret)
    app.state.assertion_signer = parts.signer


def install_routes(app: FastAPI, parts: GatewayParts) -> None:
    install_error_handlers(app)
    install_health(app, readiness_checks(parts.db, parts.upstreams, parts.limiter),
                   optional=OPTIONAL)
    app.include_router(oauth)
    app.include_router(admin)
    app.include_router(events_router)
    app.include_router(event_types_router)
    install_openapi(app)
    install_merged_docs(app, parts.upstreams, parts.routes)
    install_docs(app, "Ruta de Empleabilidad API")


def install_middleware(app: FastAPI, parts: GatewayParts) -> None:
    """Starlette runs the last added outermost: CORS, then the request context (so the
    front door's refusals carry a request id and are logged), then the front door."""
    settings = parts.settings
    app.add_middleware(
        FrontDoor, routes=parts.routes, upstreams=parts.upstreams, verifier=parts.verifier,
        signer=parts.signer, limiter=parts.limiter,
        quotas=parse_quotas(settings.rate_limits), max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    app.add_middleware(RequestContextMiddleware, service="gateway")
    install_cors(app, settings)


def install_cors(app: FastAPI, settings: Settings) -> None:
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


def create_app(
    settings: Settings,
    database: Database | None = None,
    upstreams: dict[str, Upstream] | None = None,
) -> FastAPI:
    """The public entry point. ``upstreams`` are in-process apps (embedded) or, by default,
    the service URLs from settings (distributed)."""
    parts = build_parts(settings, database, upstreams)
    app = FastAPI(title="Ruta de Empleabilidad API", version="1.0.0",
                  lifespan=lifespan_of(parts), openapi_url=None, docs_url=None,
                  redoc_url=None, telemetry=NO_NATIVE_TELEMETRY)
    publish_state(app, parts)
    install_routes(app, parts)
    install_middleware(app, parts)
    instrument_app(app, parts.db)
    return app
