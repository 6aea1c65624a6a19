"""issue 18: the event pipeline and the webhooks move their metrics when events move."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from gateway.events.delivery_worker import DeliveryWorker
from gateway.events.hub import record_events
from gateway.events.subscriptions import endpoint_disabled_event
from ruta.embedded import create_embedded_app
from shared.clock import utcnow
from shared.db import Database
from shared.metrics import Sampler
from shared.outbox import EventEnvelope
from shared.settings import Settings
from tests.operations.metrics_support import sample
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.receivers import Receiver
from tests.support.tokens import TokenFactory


@pytest.fixture
async def quiet_app(dbs: dict[str, Database]) -> AsyncIterator[FastAPI]:
    """No background relay: the test moves events itself, so the figures are its own."""
    app = create_embedded_app(Settings(allow_private_webhook_targets=True,
                                       background_tasks=False), dbs)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def qc(quiet_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with contract_client(quiet_app) as c:
        yield c


async def test_relay_moves_outbox_lag_and_feed_head(
        quiet_app: FastAPI, qc: httpx.AsyncClient, auth: TokenFactory) -> None:
    hub = quiet_app.state.hub
    await hub.relay_all()
    relayed = sample("ruta_events_relayed_total", service="registry")
    lags = sample("ruta_event_relay_lag_seconds_count")
    made = await qc.post("/v1/profiles", json=profile_payload(), headers=auth())
    assert made.status_code == 201
    await hub.relay_once("registry", limit=1000)
    assert sample("ruta_outbox_pending_events", service="registry") >= 1
    assert sample("ruta_outbox_oldest_pending_age_seconds", service="registry") >= 0
    assert sample("ruta_outbox_last_poll_timestamp_seconds", service="registry") > 0
    assert sample("ruta_events_relayed_total", service="registry") >= relayed + 1
    assert sample("ruta_event_relay_lag_seconds_count") >= lags + 1
    head = sample("ruta_event_feed_head_position")
    assert head >= 1
    await hub.relay_once("registry")
    assert sample("ruta_outbox_pending_events", service="registry") == 0
    assert sample("ruta_outbox_oldest_pending_age_seconds", service="registry") == 0
    await hub.dispatch_all()
    assert sample("ruta_event_consumer_position", consumer="referrals") == head
    exposed = (await qc.get("/metrics")).text
    assert 'ruta_outbox_pending_events{service="registry"}' in exposed


def _event(kind: str) -> EventEnvelope:
    return EventEnvelope(event_id=str(uuid.uuid4()), type=kind, occurred_at=utcnow(),
                         subject_type="profile", subject_id=str(uuid.uuid4()),
                         organisation_id="ong-lima", regions=["PE-LMA"], data={})


async def test_webhook_outcomes_latency_backlog_and_disabled(
        dbs: dict[str, Database], qc: httpx.AsyncClient, auth: TokenFactory,
        receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    made = await qc.post("/v1/webhook-subscriptions", headers=auth("ngo_partner", org="ong-lima"),
                         json={"url": url, "event_types": ["profile.erased"]})
    assert made.status_code == 201, made.text
    before = {o: sample("ruta_webhook_deliveries_total", outcome=o)
              for o in ("delivered", "retrying", "failed")}
    latency = sample("ruta_webhook_attempt_duration_seconds_count")
    disabled = sample("ruta_webhook_endpoints_disabled_total", reason="gone")
    now = [utcnow() + timedelta(seconds=1)]
    worker = DeliveryWorker(dbs["gateway"], Settings(allow_private_webhook_targets=True),
                            clock=lambda: now[0], emit_disabled=endpoint_disabled_event)
    rec.script = [(500, {}), (200, {})]
    await record_events(dbs["gateway"], "registry", [_event("profile.erased")])
    assert await worker.run_once() == 1
    assert sample("ruta_webhook_backlog") >= 1  # sampled when it leased the batch
    assert sample("ruta_webhook_deliveries_total", outcome="retrying") == before["retrying"] + 1
    now[0] += timedelta(hours=1)
    assert await worker.run_once() == 1
    assert sample("ruta_webhook_deliveries_total", outcome="delivered") == \
        before["delivered"] + 1
    assert sample("ruta_webhook_attempt_duration_seconds_count") == latency + 2
    rec.script = [(410, {})]
    await record_events(dbs["gateway"], "registry", [_event("profile.erased")])
    worker.backlog_sampler = Sampler(every=0)  # sample at every lease from here on
    assert await worker.run_once() == 1
    assert sample("ruta_webhook_deliveries_total", outcome="failed") == before["failed"] + 1
    assert sample("ruta_webhook_endpoints_disabled_total", reason="gone") == disabled + 1
    assert await worker.run_once() == 0
    assert sample("ruta_webhook_backlog") == 0
    await worker.close()

