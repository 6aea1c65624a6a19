"""The referrals service app: catalogue, recommendations, referrals, pathways.

At start-up the recommendation rules and the pathway templates are read and validated: a
broken file refuses to start (:class:`RulesError`, :class:`TemplatesError`) rather than serve
wrong recommendations. When the app owns its database (not handed one by tests or the
embedded shape's caller) it also runs the overdue job every minute.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.referrals.api import routers
from services.referrals.pathways import load_templates
from services.referrals.reports.api import router as reports_router
from services.referrals.reports.projection import PROFILE_EVENTS, project_profile
from services.referrals.rules import load_rules
from services.referrals.sla import OVERDUE_INTERVAL_SECONDS, run_periodically
from services.referrals.usecases import handlers
from shared.db import Database, UnitOfWork
from shared.http import create_service_app
from shared.inbox import EventConsumer, event_router
from shared.outbox import EventEnvelope
from shared.settings import Settings

AUTO = -1.0  # the overdue job runs when the app owns its database


def create_app(settings: Settings, database: Database | None = None, *,
               rules_path: Path | None = None, templates_path: Path | None = None,
               overdue_interval: float | None = AUTO) -> FastAPI:
    """``overdue_interval``: seconds between overdue runs; None: never; AUTO (default):
    every minute when the app opens its own database, never when handed one (tests)."""
    rules = load_rules(rules_path)
    templates = load_templates(templates_path)
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
        routers=[*routers, reports_router],
    )
    app.state.rules = rules
    app.state.templates = templates

    consumer = _event_consumer(app)
    app.state.consumer = consumer
    app.include_router(event_router(consumer))

    _run_overdue_job(app, db, interval)
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

    async def project_person(uow: UnitOfWork, event: EventEnvelope) -> None:
        """The reports' projection of people (ids and non-identifying attributes)."""
        await project_profile(uow, event, app.state.peers)

    # The workflow's handler of an event runs before the projection's, in one transaction.
    return (EventConsumer()
            .add("credential.status_changed", credential_changed)
            .add("profile.erased", erased)
            .add("profile.merged", merged)
            .add("profile.updated", handlers.on_profile_updated)
            .add(PROFILE_EVENTS, project_person))


def _run_overdue_job(app: FastAPI, db: Database, interval: float | None) -> None:
    """Run the overdue job every ``interval`` seconds while the app lives (None or 0:
    never), started and cancelled with the app's own lifespan."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            task = (asyncio.create_task(run_periodically(db, interval))
                    if interval is not None and interval > 0 else None)
            try:
                yield state
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan
