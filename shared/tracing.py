"""Traces with OpenTelemetry, off unless the standard ``OTEL_*`` variables ask for them.

Off (the default) nothing is instrumented, no SDK is imported and no span is made: a request
costs what it cost before. On, spans come from OpenTelemetry's own instrumentations (FastAPI
apps, SQLAlchemy engines, the httpx client of :mod:`shared.peers` in process, the aiohttp
client of the gateway's webhooks; our own client between processes, shared.http1, makes its
spans here, :func:`client_span`) and go to an OTLP/HTTP collector by the standard variables
(``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``, ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``,
``OTEL_BSP_*``...). A caller's W3C ``traceparent`` is honoured and carried on: in-process
(embedded) a service's span nests in the gateway's; over sockets (distributed) our client
sends it to services and peers; and every outbox event keeps it (:func:`current_traceparent`),
so its consumers and webhook deliveries continue the trace.

Spans never carry a query string or a client address: search terms are names and document
numbers, an address is personal data. SQL spans carry the statement, never its parameters.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.db import Database

TRACEPARENT = "traceparent"
CLIENT_SCOPE = "ruta.http.client"  # spans of our own client (client_span, shared.http1)
_VALID_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
# Routes whose spans would only be noise: probes, scrapes and the relay's long polls.
_EXCLUDED = "/healthz,/readyz,/metrics,/internal/outbox"
# Attributes the instrumentations may set that can hold personal data.
_QUERY_ATTRIBUTES = ("http.url", "url.full", "http.target")
_DROPPED_ATTRIBUTES = ("url.query", "net.peer.ip", "client.address", "http.client_ip",
                       "net.sock.peer.addr", "network.peer.address", "http.user_agent",
                       "user_agent.original")

_provider: TracerProvider | None = None


def requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint or ``OTEL_TRACES_EXPORTER``
    set (to anything but ``none``), and ``OTEL_SDK_DISABLED`` not ``true``. Unlike the SDK's
    own default, no variable means no tracing."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def enabled() -> bool:
    return _provider is not None


def configure_tracing(service_name: str) -> None:
    """Start tracing for this process when the environment asks for it (once; the app
    factories call it before building their apps)."""
    if _provider is not None or not requested():
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = TracerProvider(resource=Resource.create(attributes))  # sampler: OTEL_TRACES_*
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    enable(provider)


def enable(provider: TracerProvider) -> None:
    """Trace with ``provider``: the client instrumentations are installed here, each app and
    engine by :func:`instrument_app` as it is built. Tests pass an in-memory exporter's."""
    global _provider
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    _provider = provider
    HTTPXClientInstrumentor().instrument(tracer_provider=provider,
                                         request_hook=_client_request_hook)
    AioHttpClientInstrumentor().instrument(tracer_provider=provider, url_filter=_without_query)


def disable() -> None:
    """Undo :func:`enable` (tests); apps already instrumented keep their middleware."""
    global _provider
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    if _provider is None:
        return
    HTTPXClientInstrumentor().uninstrument()
    AioHttpClientInstrumentor().uninstrument()
    EngineTracer.remove_all_event_listeners()
    _engines.clear()
    _provider = None


def instrument_app(app: FastAPI, database: Database | None = None) -> None:
    """Server spans for ``app`` and SQL spans for ``database``'s engine; nothing when off."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls=_EXCLUDED,
                                       server_request_hook=_server_request_hook,
                                       exclude_spans=["receive", "send"])
    if database is not None:
        instrument_engine(database.engine)


_engines: weakref.WeakSet[Any] = weakref.WeakSet()


def instrument_engine(engine: AsyncEngine) -> None:
    """SQL spans (statement, never parameters) for one engine, once. OpenTelemetry's
    ``SQLAlchemyInstrumentor().instrument()`` would also patch ``create_engine`` for the whole
    process and instruments one engine per process; its ``EngineTracer`` does just this."""
    if _provider is None or engine.sync_engine in _engines:
        return
    from opentelemetry.instrumentation.sqlalchemy import __version__
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    _engines.add(engine.sync_engine)
    usage = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("unused")
    EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__,
                                  tracer_provider=_provider),
                 engine.sync_engine, usage, enable_commenter=False)


def traced_connection(conn: Any) -> Any:
    """An asyncpg connection of the statement pool (``Database.statement``) whose statements
    make SQL spans as the engines' do (the statement, never its parameters); ``conn`` itself
    when tracing is off."""
    return conn if _provider is None else _TracedConnection(conn, tracer(STATEMENTS_SCOPE))


STATEMENTS_SCOPE = "ruta.db.statements"


class _TracedConnection:
    def __init__(self, conn: Any, spans: trace.Tracer) -> None:
        self._conn = conn
        self._spans = spans

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def _run(self, method: str, sql: str, *args: Any, **kw: Any) -> Any:
        with self._spans.start_as_current_span(
                sql.split(None, 1)[0].upper() if sql.strip() else "SQL",
                kind=trace.SpanKind.CLIENT,
                attributes={"db.system": "postgresql", "db.statement": sql}):
            return await getattr(self._conn, method)(sql, *args, **kw)

    async def fetch(self, sql: str, *args: Any, **kw: Any) -> Any:
        return await self._run("fetch", sql, *args, **kw)

    async def fetchrow(self, sql: str, *args: Any, **kw: Any) -> Any:
        return await self._run("fetchrow", sql, *args, **kw)

    async def fetchval(self, sql: str, *args: Any, **kw: Any) -> Any:
        return await self._run("fetchval", sql, *args, **kw)

    async def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        return await self._run("execute", sql, *args, **kw)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name, tracer_provider=_provider)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (stored with outbox events); None when
    tracing is off or there is no span."""
    if _provider is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def continued(traceparent: str | None, name: str, **attributes: Any) -> Iterator[None]:
    """A span continuing the trace of the request that caused an event (a consumer's
    handling, a webhook delivery); a plain no-op when off or the event has none."""
    if _provider is None:
        yield
        return
    parent = None
    if traceparent and _VALID_TRACEPARENT.match(traceparent):
        parent = propagate.extract({TRACEPARENT: traceparent})
    token = otel_context.attach(parent) if parent is not None else None
    try:
        with tracer("ruta.events").start_as_current_span(name, attributes=attributes):
            yield
    finally:
        if token is not None:
            otel_context.detach(token)


class ClientCall:
    """A request sent by a client of our own (shared.http1): the headers that carry
    the trace on, and its answer's status for the span."""

    __slots__ = ("_span", "headers")

    def __init__(self, headers: list[tuple[bytes, bytes]], span: Any = None) -> None:
        self.headers = headers
        self._span = span

    def answered(self, status: int) -> None:
        if self._span is not None:
            self._span.set_attribute("http.response.status_code", status)
            if status >= 500:
                self._span.set_status(trace.StatusCode.ERROR)


_UNTRACED_CALL = ClientCall([])


@contextmanager
def client_span(method: str, url: str) -> Iterator[ClientCall]:
    """A client span around a request to ``url`` (no query: see the module's note), as
    OpenTelemetry's client instrumentations make, with the ``traceparent`` to send; when
    off, no span and no header."""
    if _provider is None:
        yield _UNTRACED_CALL
        return
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    if not is_instrumentation_enabled():  # inside untraced()
        yield _UNTRACED_CALL
        return
    attributes = {"http.request.method": method, "url.full": url.split("?", 1)[0]}
    with tracer(CLIENT_SCOPE).start_as_current_span(
            method, kind=trace.SpanKind.CLIENT, attributes=attributes) as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield ClientCall([(k.encode("latin-1"), v.encode("latin-1"))
                          for k, v in carrier.items()], span)


@contextmanager
def untraced() -> Iterator[None]:
    """No spans inside (the relay's polls of every outbox, every two seconds: background
    noise that would bury the traces of requests)."""
    if _provider is None:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


def log_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog: the trace and span ids of the current span on every line."""
    if _provider is None:
        return event
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event.setdefault("span_id", format(ctx.span_id, "016x"))
    return event


def _without_query(url: object) -> str:
    return str(url).split("?", 1)[0]  # aiohttp passes a yarl URL


def _redact(span: Any) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key in _QUERY_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, _without_query(value))
    for key in _DROPPED_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, "")


def _server_request_hook(span: Any, scope: dict[str, Any]) -> None:
    if span is not None and span.is_recording():
        _redact(span)


def _client_request_hook(span: Any, request: Any) -> None:
    if span is not None and span.is_recording():
        _redact(span)
