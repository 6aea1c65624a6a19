"""Request id, language, metrics and access log in one pure-ASGI layer, plus health endpoints.

Pure ASGI rather than BaseHTTPMiddleware: it runs on every request of every process, and
BaseHTTPMiddleware costs a task and a memory stream per request.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

import structlog
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import problem_response
from shared.i18n import Text, negotiate, set_language, status_title

REQUEST_ID_HEADER = b"x-request-id"
CONTEXT_SCOPE_KEY = "ruta.context"
_request_id: ContextVar[str | None] = ContextVar("ruta_request_id", default=None)
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

REQUESTS = Counter("ruta_http_requests_total", "HTTP requests",
                   ["service", "method", "route", "status"])
LATENCY = Histogram("ruta_http_request_duration_seconds", "HTTP request latency",
                    ["service", "method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

access_log = structlog.get_logger("ruta.access")


def current_request_id() -> str | None:
    return _request_id.get()


def header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k == name:
            return v
    return None


class RequestContextMiddleware:
    """Sets request id and language, times the request, writes one access-log line."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or CONTEXT_SCOPE_KEY in scope:
            # in the embedded shape the gateway's layer already did all of this for the
            # request it hands to a service in-process: once is enough
            await self.app(scope, receive, send)
            return
        scope[CONTEXT_SCOPE_KEY] = self.service
        raw = header(scope, REQUEST_ID_HEADER)
        if raw is not None and _SAFE_ID.match(raw):
            rid = raw.decode()
        else:
            rid = uuid.uuid4().hex
            if raw is not None:  # an unsafe id is replaced, so downstream sees ours
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != REQUEST_ID_HEADER]
            scope["headers"] = [*scope["headers"], (REQUEST_ID_HEADER, rid.encode())]
        _request_id.set(rid)
        structlog.contextvars.bind_contextvars(request_id=rid)
        al = header(scope, b"accept-language")
        set_language(negotiate(al.decode("latin-1") if al else None))
        status = 500
        rid_b = rid.encode()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, rid_b))
                message["headers"] = headers
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or scope.get("ruta_route") or "unmatched"
            method = scope["method"]
            REQUESTS.labels(self.service, method, template, str(status)).inc()
            LATENCY.labels(self.service, method, template).observe(elapsed)
            # the relay's polling of /internal/* would drown the access log at INFO
            emit = access_log.debug if scope["path"].startswith("/internal/") and status < 400 \
                else access_log.info
            emit("request", service=self.service, method=method, route=template,
                 status=status, duration_ms=round(elapsed * 1000, 2))


ReadinessCheck = Callable[[], Awaitable[None]]

_NOT_READY = Text("Una dependencia no responde.", "A dependency is not answering.")


def install_health(app: FastAPI, checks: dict[str, ReadinessCheck]) -> None:
    """``/healthz`` says the process lives; ``/readyz`` that its dependencies answer."""

    @app.get("/healthz", operation_id="health_live",
             summary="Liveness probe", tags=["operations"], include_in_schema=True)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers. No dependency is checked."""
        return {"status": "ok"}

    @app.get("/readyz", operation_id="health_ready",
             summary="Readiness probe (databases and services answer)",
             tags=["operations"], responses={503: {"description": "Not ready"}})
    async def readyz() -> Response:
        """Readiness: every dependency (databases, services) answered within two seconds; 503
        lists which did not."""
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=2.0)
                results[name] = "ok"
            except Exception:
                results[name] = "unavailable"
        if all(v == "ok" for v in results.values()):
            return JSONResponse({"status": "ready", "checks": results})
        return problem_response(
            {"type": "/problems/not-ready", "title": status_title(503).render(), "status": 503,
             "detail": _NOT_READY.render(), "checks": results}, 503)

    @app.get("/metrics", operation_id="metrics_read",
             summary="Prometheus metrics", tags=["operations"], include_in_schema=True)
    async def metrics() -> Response:
        """Prometheus metrics of this process (text exposition format)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
