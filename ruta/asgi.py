"""ASGI factories for uvicorn (``uvicorn --factory ruta.asgi:embedded``), one per process kind."""

from __future__ import annotations

from fastapi import FastAPI

from shared.logging import configure_logging
from shared.settings import Settings


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings


def embedded() -> FastAPI:
    from ruta.embedded import create_embedded_app

    return create_embedded_app(_settings())


def gateway() -> FastAPI:
    from gateway.app import create_app

    return create_app(_settings())


def registry() -> FastAPI:
    from services.registry.app import create_app

    return create_app(_settings())


def referrals() -> FastAPI:
    from services.referrals.app import create_app

    return create_app(_settings())


def credentials() -> FastAPI:
    from services.credentials.app import create_app

    return create_app(_settings())
