"""The registry service app: profiles, documents, consents, audit, and the caseworker's
worklist. When the app owns its database (not handed one by tests or the embedded shape's
caller) it also runs the document-expiry watch every
``RUTA_DOCUMENT_WATCH_INTERVAL_SECONDS``."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import router
from services.registry.crypto import SensitiveCipher
from services.registry.denials import install_denial_audit
from services.registry.fast_lane import install_fast_lane
from services.registry.internal import internal_router
from services.registry.portability.trust import PeerTrust
from services.registry.transfers_api import internal_router as transfers_internal_router
from services.registry.transfers_api import profile_router as transfer_profile_router
from services.registry.transfers_api import public_router as transfers_public_router
from services.registry.transfers_api import router as transfers_router
from services.registry.usecases.worklist import (
    on_document_event,
    on_referral_changed,
    on_referral_overdue,
)
from services.registry.watch import watch_every
from services.registry.worklist_api import router as worklist_router
from shared.db import Database
from shared.http import create_service_app, run_during_lifespan
from shared.inbox import EventConsumer, event_router
from shared.settings import Settings
from shared.work_authorisation import rules


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    rules()  # a broken work-authorisation rules file refuses to start
    db = database or Database(settings.database_url("registry"),
                              pool_size=settings.database_pool_size,
                              idempotency_ttl_hours=settings.idempotency_ttl_hours)
    consumer = (EventConsumer()
                .add(["document.expiring", "document.expired"], on_document_event)
                .add("referral.overdue", on_referral_overdue)
                .add(["referral.created", "referral.status_changed"], on_referral_changed))
    app = create_service_app(
        name="registry",
        title="Ruta de Empleabilidad — registry",
        description="Migrant profiles: identity, documents, consent, audit and ARCO rights; "
                    "the caseworker's worklist.",
        settings=settings,
        database=db,
        routers=[transfer_profile_router, router, worklist_router, transfers_public_router,
                 transfers_router, internal_router, transfers_internal_router,
                 event_router(consumer)],
    )
    app.state.cipher = SensitiveCipher.from_settings(settings)
    app.state.peer_trust = PeerTrust(settings)
    app.state.consumer = consumer
    install_denial_audit(app)
    install_fast_lane(app)
    if database is None:
        _run_document_watch(app, db, settings)
    return app


def _run_document_watch(app: FastAPI, db: Database, settings: Settings) -> None:
    """The watch as a task of the app's own lifespan (none with an interval of 0)."""
    if settings.document_watch_interval_seconds > 0:
        run_during_lifespan(app, lambda: watch_every(db, settings), "document-watch")
