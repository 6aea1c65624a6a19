from __future__ import annotations

from fastapi import FastAPI

from services.referrals.api import router
from shared.db import Database
from shared.http import create_service_app
from shared.settings import Settings


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    db = database or Database(settings.database_url("referrals"),
                              pool_size=settings.database_pool_size,
                              idempotency_ttl_hours=settings.idempotency_ttl_hours)
    return create_service_app(
        name="referrals",
        title="Ruta de Empleabilidad — referrals",
        description="Route catalogue, recommendations, referrals and pathways.",
        settings=settings,
        database=db,
        routers=[router],
    )
