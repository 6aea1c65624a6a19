from __future__ import annotations

from fastapi import FastAPI

from services.credentials.api import internal_router, public_router, router
from services.credentials.peer_issuers import PeerIssuers
from services.credentials.usecases.handlers import (
    on_profile_erased,
    on_profile_merged,
    on_profile_updated,
)
from shared.db import Database
from shared.http import create_service_app
from shared.inbox import EventConsumer, event_router
from shared.settings import Settings

consumer = (EventConsumer()
            .add("profile.erased", on_profile_erased)
            .add("profile.updated", on_profile_updated)
            .add("profile.merged", on_profile_merged))


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    db = database or Database(settings.database_url("credentials"),
                              pool_size=settings.database_pool_size,
                              idempotency_ttl_hours=settings.idempotency_ttl_hours)
    app = create_service_app(
        name="credentials",
        title="Ruta de Empleabilidad — credentials",
        description="Degrees, licences, skills certifications and training completions; their "
                    "verification and recognition; export as W3C verifiable credentials "
                    "(VC 2.0, Open Badges 3.0, JOSE ES256) and public verification.",
        settings=settings,
        database=db,
        routers=[public_router, router, internal_router, event_router(consumer)],
    )
    app.state.peer_issuers = PeerIssuers(settings)
    return app
