"""ASGI factories for uvicorn (``uvicorn --factory ruta.asgi:embedded``), one per process kind."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from shared.logging import configure_logging
from shared.settings import Settings
from shared.tracing import configure_tracing


def _settings(process: str) -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    configure_tracing(f"ruta-{process}")  # only when OTEL_* variables ask for it
    return settings


def tune_gc() -> None:
    """Keep the collector off the request path. What the process built at start (modules,
    schemas, routes, table metadata) is frozen out of collections, and a young collection
    waits for 20,000 surviving allocations instead of 700: request objects die by reference
    counting long before. Measured on the profile read at 50 connections: full collections
    of up to 133 ms (1.5 s in 13 s) → none; throughput +26%, p99 236 → 137 ms."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _built(app: FastAPI) -> FastAPI:
    tune_gc()
    return app


def embedded() -> FastAPI:
    from ruta.embedded import create_embedded_app

    return _built(create_embedded_app(_settings("embedded")))


def gateway() -> FastAPI:
    from gateway.app import create_app

    return _built(create_app(_settings("gateway")))


def registry() -> FastAPI:
    from services.registry.app import create_app

    return _built(create_app(_settings("registry")))


def referrals() -> FastAPI:
    from services.referrals.app import create_app

    return _built(create_app(_settings("referrals")))


def credentials() -> FastAPI:
    from services.credentials.app import create_app

    return _built(create_app(_settings("credentials")))
