"""What every service app shares: the app factory, its OpenAPI additions and the response of an
idempotent write. The dependencies routes take are in :mod:`shared.deps`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.telemetry import TelemetryConfig
from starlette.responses import Response

from shared.db import Database
from shared.docs import install_docs
from shared.errors import PROBLEM_SCHEMA, install_error_handlers
from shared.idempotency import StoredResponse
from shared.identity import AssertionSigner
from shared.observability import RequestContextMiddleware, install_health
from shared.outbox import outbox_router
from shared.pagination import CursorCodec
from shared.peers import Peers
from shared.settings import Settings
from shared.tracing import instrument_app

# FastAPI's native OpenTelemetry hooks look up three global providers on every request of every
# app (two apps per request in the embedded shape). Metrics and the access log are ours
# (shared/observability.py); set them on only together with an OpenTelemetry exporter.
NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

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
                  docs_url=None, redoc_url=None, telemetry=NO_NATIVE_TELEMETRY)
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
    app.include_router(outbox_router())
    app.add_middleware(RequestContextMiddleware, service=name)
    install_openapi(app)
    install_docs(app, title)
    instrument_app(app, database)
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


def run_during_lifespan(app: FastAPI, job: Callable[[], Coroutine[Any, Any, None]],
                        name: str) -> None:
    """Run ``job()`` as a task while the app lives: started inside the app's own lifespan,
    cancelled and awaited when it ends (the services' periodic jobs)."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            task = asyncio.create_task(job(), name=name)
            try:
                yield state
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
