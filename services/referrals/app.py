"""The referrals service app: catalogue, recommendations, referrals, pathways.

At start-up the recommendation rules and the pathway templates are read and validated: a
broken file refuses to start (:class:`RulesError`, :class:`TemplatesError`) rather than serve
wrong recommendations. When the app owns its database (not handed one by tests or the
embedded shape's caller) it also runs the overdue job every minute.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.referrals.api import routers
from services.referrals.catalogue import PROGRAMMES
from services.referrals.matching.api import routers as matching_routers
from services.referrals.matching.projection import (
    CREDENTIAL_EVENTS,
    PERSON_EVENTS,
    project_matching,
)
from services.referrals.matching.rules import load_matching_rules
from services.referrals.pathways import load_templates
from services.referrals.reports.api import router as reports_router
from services.referrals.reports.projection import PROFILE_EVENTS, project_profile
from services.referrals.reports.rollups import REFRESH_INTERVAL_SECONDS, refresh_periodically
from services.referrals.rules import load_rules
from services.referrals.sla import OVERDUE_INTERVAL_SECONDS, run_periodically
from services.referrals.usecases import handlers, regularisation
from services.referrals.vacancies.api import routers as vacancy_routers
from shared.db import Database, UnitOfWork
from shared.http import create_service_app, run_during_lifespan
from shared.inbox import EventConsumer, event_router
from shared.outbox import EventEnvelope
from shared.settings import Settings
from shared.work_authorisation import rules as work_rules

AUTO = -1.0  # the overdue job runs when the app owns its database


def create_app(settings: Settings, database: Database | None = None, *,
               rules_path: Path | None = None, templates_path: Path | None = None,
               overdue_interval: float | None = AUTO) -> FastAPI:
    """``overdue_interval``: seconds between overdue runs; None: never; AUTO (default):
    every minute when the app opens its own database, never when handed one (tests)."""
    rules = load_rules(rules_path)
    templates = load_templates(templates_path)
    matching_rules = load_matching_rules()
    matching_rules.check_references(
        {p["id"] for p in PROGRAMMES} | {d.renewal_programme for d in work_rules().documents
                                         if d.renewal_programme},
        {t.id for t in templates.templates})
    interval = (OVERDUE_INTERVAL_SECONDS if database is None else None) \
        if overdue_interval == AUTO else overdue_interval
    db = database or Database(settings.database_url("referrals"),
                              pool_size=settings.database_pool_size,
                              idempotency_ttl_hours=settings.idempotency_ttl_hours)
    app = create_service_app(
        name="referrals",
        title="Ruta de Empleabilidad — referrals",
        description="Route catalogue (programmes and providers), recommendations with "
                    "reasons and missing requirements, closed-loop referrals with SLAs, "
                    "and multi-step pathways.",
        settings=settings,
        database=db,
        routers=[*routers, reports_router, *matching_routers, *vacancy_routers],
    )
    app.state.rules = rules
    app.state.templates = templates
    app.state.matching_rules = matching_rules

    consumer = _event_consumer(app)
    app.state.consumer = consumer
    app.include_router(event_router(consumer))

    _run_jobs(app, db, interval)
    return app


def _event_consumer(app: FastAPI) -> EventConsumer:
    """What the service does with other services' events: its use cases (``handlers``) and
    the reports' projection of people, each in the event's unit of work."""

    async def credential_changed(uow: UnitOfWork, event: EventEnvelope) -> None:
        await handlers.on_credential_status_changed(uow, event, app.state.peers)

    async def erased(uow: UnitOfWork, event: EventEnvelope) -> None:
        await handlers.on_profile_erased(uow, event, app.state.peers)

    async def merged(uow: UnitOfWork, event: EventEnvelope) -> None:
        await handlers.on_profile_merged(uow, event, app.state.peers)

    async def document_expired(uow: UnitOfWork, event: EventEnvelope) -> None:
        await regularisation.on_document_expired(uow, event, app.state.rules)

    async def document_recorded(uow: UnitOfWork, event: EventEnvelope) -> None:
        await regularisation.on_document_recorded(uow, event, app.state.rules)

    async def project_person(uow: UnitOfWork, event: EventEnvelope) -> None:
        """The reports' projection of people (ids and non-identifying attributes)."""
        await project_profile(uow, event, app.state.peers)

    async def project_candidate(uow: UnitOfWork, event: EventEnvelope) -> None:
        """The candidates projection of job matching (consenting people only)."""
        await project_matching(uow, event, app.state.peers)

    # The workflow's handler of an event runs before the projection's, in one transaction.
    return (EventConsumer()
            .add("credential.status_changed", credential_changed)
            .add("profile.erased", erased)
            .add("profile.merged", merged)
            .add("profile.updated", handlers.on_profile_updated)
            .add("document.expired", document_expired)
            .add("document.expiring", regularisation.on_document_expiring)
            .add("document.recorded", document_recorded)
            .add(PROFILE_EVENTS, project_person)
            .add(PERSON_EVENTS + CREDENTIAL_EVENTS, project_candidate))


def _run_jobs(app: FastAPI, db: Database, interval: float | None) -> None:
    """While the app lives: the overdue job every ``interval`` seconds (None or 0: never),
    and the reports' rollups refresh (never when the app is handed its database, as in
    tests: ``interval`` None)."""
    if interval is not None and interval > 0:
        run_during_lifespan(app, lambda: run_periodically(db, interval), "overdue")
    if interval is not None:
        run_during_lifespan(app, lambda: refresh_periodically(db, REFRESH_INTERVAL_SECONDS),
                            "report-rollups")
