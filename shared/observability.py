"""Request id, language, metrics and access log in one pure-ASGI layer, plus health endpoints.

Pure ASGI rather than BaseHTTPMiddleware: it runs on every request of every process, and
BaseHTTPMiddleware costs a task and a memory stream per request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import problem_response
from shared.i18n import Text, negotiate, set_language, status_title
from shared.logging import enabled
from shared.metrics import ROUTE_HEADER, exposition, note_route, open_route_slot, route_label

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
# What the access log and metrics record for a request cancelled before it was answered
# (nginx's "client closed request").
CANCELLED = 499


@functools.lru_cache(maxsize=4096)
def _counted(service: str, method: str, template: str, status: int) -> Any:
    """The counter's child for these labels, looked up once (``labels()`` validates and
    locks on every call; routes are templates, so the label sets are few)."""
    return REQUESTS.labels(service, method, template, str(status))


@functools.lru_cache(maxsize=4096)
def _timed(service: str, method: str, template: str) -> Any:
    return LATENCY.labels(service, method, template)


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id() -> str:
    """32 hex digits of randomness, as ``uuid4().hex`` gives, without its system call per
    request (2% of the embedded read's CPU in py-spy): a request id is shown to the caller
    and is no secret. The random module reseeds itself in a forked worker."""
    return f"{random.getrandbits(128):032x}"


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
        # a service tells the gateway in front of it which template it matched; the
        # gateway reads that and removes it (ROUTE_HEADER, shared/metrics.py)
        self.edge = service == "gateway"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or CONTEXT_SCOPE_KEY in scope:
            # in the embedded shape the gateway's layer already did all of this for the
            # request it hands to a service in-process: once is enough
            try:
                await self.app(scope, receive, send)
            finally:
                note_route(scope)
            return
        scope[CONTEXT_SCOPE_KEY] = self.service
        slot = open_route_slot(scope)
        raw = header(scope, REQUEST_ID_HEADER)
        if raw is not None and _SAFE_ID.match(raw):
            rid = raw.decode()
        else:
            rid = new_request_id()
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
                headers = []
                for h in message.get("headers", []):
                    if h[0] == ROUTE_HEADER:
                        note_route(scope, h[1].decode("latin-1"))
                    elif h[0] != REQUEST_ID_HEADER:
                        headers.append(h)
                headers.append((REQUEST_ID_HEADER, rid_b))
                if not self.edge and (template := route_label(scope, slot)) != "unmatched":
                    headers.append((ROUTE_HEADER, template.encode()))
                message["headers"] = headers
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        except asyncio.CancelledError:
            # cancelled before answering (the relay's long poll when the server stops, a
            # caller gone): nobody is answered, so no 500 is counted or logged
            if status == 500:
                status = CANCELLED
            raise
        finally:
            elapsed = time.perf_counter() - start
            template = route_label(scope, slot)
            method = scope["method"]
            _counted(self.service, method, template, status).inc()
            _timed(self.service, method, template).observe(elapsed)
            # the relay's polling of /internal/* would drown the access log at INFO
            quiet = scope["path"].startswith("/internal/") and (
                status < 400 or status == CANCELLED)
            if enabled(logging.DEBUG if quiet else logging.INFO):
                (access_log.debug if quiet else access_log.info)(
                    "request", service=self.service, method=method, route=template,
                    status=status, duration_ms=round(elapsed * 1000, 2))


ReadinessCheck = Callable[[], Awaitable[None]]

_NOT_READY = Text("Una dependencia no responde.", "A dependency is not answering.")


async def _run_check(check: ReadinessCheck) -> dict[str, object]:
    """One readiness check, timed; its failure named by kind only (a driver's message may
    hold a host name or a value)."""
    start = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=2.0)
        out: dict[str, object] = {"status": "ok"}
    except TimeoutError:
        out = {"status": "unavailable", "error": "timeout"}
    except Exception as exc:
        out = {"status": "unavailable", "error": type(exc).__name__}
    out["duration_ms"] = round((time.perf_counter() - start) * 1000, 2)
    return out


def install_health(app: FastAPI, checks: dict[str, ReadinessCheck],
                   optional: frozenset[str] = frozenset()) -> None:
    """``/healthz`` says the process lives; ``/readyz`` that its dependencies answer.

    A check named in ``optional`` is one the process works without, degraded (Redis: the
    rate limiter falls back to per-process buckets): it is reported, and the answer is 200
    ``"degraded"``, so an outage of it does not take every replica out of rotation."""

    @app.get("/healthz", operation_id="health_live",
             summary="Liveness probe", tags=["operations"], include_in_schema=True)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers. No dependency is checked."""
        return {"status": "ok"}

    @app.get("/readyz", operation_id="health_ready",
             summary="Readiness probe (databases and services answer)",
             tags=["operations"], responses={503: {"description": "Not ready"}})
    async def readyz() -> Response:
        """Readiness: every dependency (databases; Redis where configured) answered within
        two seconds. ``checks`` says, per dependency, its status, how long it took and, when
        it failed, the kind of failure (an exception's class, never its message); 503 when a
        required one did not answer, 200 ``degraded`` when only an optional one did not."""
        results = dict(zip(checks, await asyncio.gather(
            *(_run_check(check) for check in checks.values())), strict=True))
        failed = {name for name, v in results.items() if v["status"] != "ok"}
        if not failed - optional:
            return JSONResponse({"status": "degraded" if failed else "ready",
                                 "checks": results})
        return problem_response(
            {"type": "/problems/not-ready", "title": status_title(503).render(), "status": 503,
             "detail": _NOT_READY.render(), "checks": results}, 503)

    @app.get("/metrics", operation_id="metrics_read",
             summary="Prometheus metrics", tags=["operations"], include_in_schema=True)
    async def metrics() -> Response:
        """Prometheus metrics of this process (text exposition format)."""
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
