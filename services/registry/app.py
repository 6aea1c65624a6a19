from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import router
from services.registry.crypto import SensitiveCipher
from services.registry.internal import internal_router
from shared.db import Database
from shared.http import create_service_app
from shared.settings import Settings


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    db = database or Database(settings.database_url("registry"),
                              pool_size=settings.database_pool_size,
                              idempotency_ttl_hours=settings.idempotency_ttl_hours)
    app = create_service_app(
        name="registry",
        title="Ruta de Empleabilidad — registry",
        description="Migrant profiles: identity, documents, consent, audit and ARCO rights.",
        settings=settings,
        database=db,
        routers=[router, internal_router],
    )
    app.state.cipher = SensitiveCipher.from_settings(settings)
    return app
