"""Issue 18, item 2: one trace follows a referral's creation through the gateway, the referrals
service, its call to the registry and every database they touch; a caller's ``traceparent``
is honoured; the trace goes with the outbox event, so its handling links back; spans carry no
query string. Embedded shape, spans kept by an in-memory exporter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ruta.embedded import create_embedded_app
from shared import tracing
from shared.db import Database
from shared.settings import Settings
from shared.tracing import STATEMENTS_SCOPE
from tests.support.contract import contract_client
from tests.support.referrals import Route
from tests.support.tokens import TokenFactory
from tests.support.tracing import CALLER_SPAN, CALLER_TRACE, TRACEPARENT, spans, trace_of

__all__ = ["spans"]  # the fixture

@pytest.fixture
async def traced_client(spans: InMemorySpanExporter, settings: Settings,
                        dbs: dict[str, Database]) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_embedded_app(settings, dbs)  # built with tracing on
    async with app.router.lifespan_context(app), contract_client(app) as client:
        yield client


def _service_of(span: Any) -> str:
    return str(span.instrumentation_scope.name)


async def test_one_trace_spans_gateway_registry_referrals_and_databases(
    traced_client: httpx.AsyncClient, auth: TokenFactory, spans: InMemorySpanExporter
) -> None:
    route = Route(traced_client, auth)
    pid = await route.person(consents_for=("mtpe-empleo",))
    spans.clear()
    resp = await route.refer(pid, headers=route.h(traceparent=TRACEPARENT))
    assert resp.status_code == 201, resp.text

    finished = spans.get_finished_spans()
    ours = [s for s in finished if trace_of(s) == CALLER_TRACE]
    assert ours and len(ours) == len(finished), "every span joins the caller's trace"
    # the gateway's server span; in-process, each service's span nests inside it
    http = [s for s in ours if _service_of(s).endswith("fastapi")]
    assert [s.attributes.get("http.target") for s in http if s.kind.name == "SERVER"] \
        == ["/v1/referrals"]
    routes = {s.attributes.get("http.route") for s in http}
    assert "/v1/referrals" in routes                                  # the referrals service
    assert "/v1/profiles/{profile_id}/consent-check" in routes       # its call to the registry
    # SQL spans of the engines, and of the statement pool (the hot reads, on PostgreSQL)
    sql = [s for s in ours if _service_of(s).endswith("sqlalchemy")
           or _service_of(s) == STATEMENTS_SCOPE]
    assert {s.attributes.get("db.system") for s in sql} >= {"sqlite"} or \
        {s.attributes.get("db.system") for s in sql} >= {"postgresql"}
    assert any("referrals" in (s.attributes.get("db.statement") or "") for s in sql)
    assert any("profiles" in (s.attributes.get("db.statement") or "") for s in sql)
    # parents chain back to the caller's span: nothing starts a trace of its own
    by_id = {s.context.span_id: s for s in ours}
    roots = [s for s in ours if s.parent is None or s.parent.span_id not in by_id]
    assert [(s.kind.name, s.attributes.get("http.target")) for s in roots] \
        == [("SERVER", "/v1/referrals")], "one root: the gateway's span"
    assert roots[0].parent is not None
    assert format(roots[0].parent.span_id, "016x") == CALLER_SPAN  # the caller's


async def test_spans_hold_no_query_string_nor_statement_parameters(
    traced_client: httpx.AsyncClient, auth: TokenFactory, spans: InMemorySpanExporter
) -> None:
    route = Route(traced_client, auth)
    await route.person(given_names="Xiomarelis")
    spans.clear()
    resp = await traced_client.get("/v1/profiles", params={"q": "Xiomarelis"},
                                   headers=route.h())
    assert resp.status_code == 200, resp.text
    finished = spans.get_finished_spans()
    assert finished
    for span in finished:
        assert "Xiomarelis" not in repr(dict(span.attributes or {})), span.name


async def test_off_by_default_nothing_is_instrumented(client: httpx.AsyncClient,
                                                      auth: TokenFactory) -> None:
    assert not tracing.requested({})
    assert not tracing.requested({"OTEL_SERVICE_NAME": "x"})
    assert tracing.requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not tracing.requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                                  "OTEL_SDK_DISABLED": "true"})
    assert not tracing.enabled()
    assert tracing.current_traceparent() is None
    resp = await client.get("/healthz", headers={"traceparent": TRACEPARENT})
    assert resp.status_code == 200
