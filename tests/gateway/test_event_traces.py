"""Issue 18, item 2: an event keeps the trace of the request that caused it, so a consumer's
handling and a webhook delivery link back to that request; the trace stays internal (the
feed and the webhook body never show it). Tracing on, spans kept in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.outbox import TRACE_KEY
from shared.settings import Settings
from shared.tables import outbox_events
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.receivers import Receiver
from tests.support.tokens import TokenFactory
from tests.support.tracing import CALLER_TRACE, TRACEPARENT, spans, trace_of

__all__ = ["spans"]  # the fixture


@pytest.fixture
async def traced_hub(spans: InMemorySpanExporter, dbs: dict[str, Database]
                     ) -> AsyncIterator[FastAPI]:
    app = create_embedded_app(Settings(allow_private_webhook_targets=True), dbs)
    async with app.router.lifespan_context(app):
        yield app


async def test_consumers_and_webhooks_continue_the_trace_of_the_request(
    traced_hub: FastAPI, spans: InMemorySpanExporter, auth: TokenFactory,
    receiver: tuple[Receiver, str], dbs: dict[str, Database]
) -> None:
    rec, url = receiver
    async with contract_client(traced_hub) as c:
        sub = await c.post("/v1/webhook-subscriptions", headers=auth("ngo_partner"),
                           json={"url": url, "event_types": ["profile.created"]})
        assert sub.status_code == 201, sub.text
        made = await c.post("/v1/profiles", json=profile_payload(),
                            headers={**auth(), "traceparent": TRACEPARENT})
        assert made.status_code == 201, made.text
        pid = made.json()["id"]

        async with dbs["registry"].uow() as uow:
            data = (await uow.session.execute(select(outbox_events.c.data).where(
                outbox_events.c.subject_id == pid))).scalar_one()
        assert data[TRACE_KEY].split("-")[1] == CALLER_TRACE  # stored with the event

        spans.clear()
        await traced_hub.state.hub.run_once()       # relay to the feed, dispatch to consumers
        assert await traced_hub.state.worker.run_once() == 1   # the webhook

        mine = await c.get("/v1/events", params={"types": "profile.created"},
                           headers=auth("ngo_partner"))
    assert TRACE_KEY not in mine.text and "traceparent" not in mine.text
    finished = spans.get_finished_spans()
    consumed = [s for s in finished if s.name == "consume profile.created"]
    assert consumed and all(trace_of(s) == CALLER_TRACE for s in consumed)
    dispatched = [s for s in finished if s.name == "dispatch profile.created"]
    assert dispatched and all(trace_of(s) == CALLER_TRACE for s in dispatched)
    polls = [s for s in finished if "outbox_events" in str(s.attributes.get("db.statement"))]
    assert polls == [], "the relay's polls make no spans"
    delivered = [s for s in finished if s.name == "webhook deliver"]
    assert [trace_of(s) for s in delivered] == [CALLER_TRACE]
    got = rec.received[0]
    assert got["headers"]["traceparent"].split("-")[1] == CALLER_TRACE
    assert TRACE_KEY.encode() not in got["body"]
