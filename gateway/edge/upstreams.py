"""How the gateway reaches a service: in-process ASGI (embedded) or pooled HTTP (distributed).

Embedded: the ASGI call is handed to the service app directly — no serialisation, no socket.
Distributed: the gateway's own HTTP/1.1 client with a keep-alive pool (shared.http1).
httpx kept only 5-7% of direct throughput here under 50 connections, aiohttp about half (see
docs/decisions/0001); a bare proxy forwarding profile reads with aiohttp's client took 149 µs
of CPU per read, with this one 82 µs (docs/decisions/0021).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import orjson
import structlog
from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.db import Database
from shared.errors import ServiceUnavailable, UpstreamTimeout, render_error
from shared.http1 import Pool
from shared.metrics import note_route
from shared.observability import RequestContextMiddleware
from shared.settings import SERVICES, Settings
from shared.tracing import client_span

log = structlog.get_logger("ruta.gateway.upstreams")

SMALL_BODY = 256 * 1024
# a service down, starting or restarting: its callers are told to come back shortly
RETRY_AFTER = {"Retry-After": "2"}
HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
    b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length",
}
# A service's answer without the headers its own server wrote: the gateway's server writes
# its own Date (a second one would make two different dates in one answer) and no Server.
DROPPED_FROM_ANSWER = (HOP_BY_HOP - {b"content-length"}) | {b"date", b"server"}
# A caller's headers not sent on: the hop's own, and Expect (the gateway has read the whole
# body already; a service must not answer 100 Continue to it).
NOT_FORWARDED = HOP_BY_HOP | {b"expect"}


class Upstream(Protocol):
    name: str
    # called in this process: the identity travels in the scope, not as a signed header
    in_process: bool

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    async def openapi(self) -> dict[str, Any]: ...


# The layers of every app that the front door's own app has already run for a request it
# hands to a service in-process: FastAPI's exception telemetry and the request context
# (shared/observability.py). The service's 500 handler is kept (inner_stack).
_OUTER_LAYERS = (ServerErrorMiddleware, RequestContextMiddleware)
_OUTER_NAMES = {"ExceptionTelemetryMiddleware"}  # FastAPI's, from a private module


def _outer(layer: ASGIApp) -> bool:
    return isinstance(layer, _OUTER_LAYERS) or (
        type(layer).__name__ in _OUTER_NAMES and type(layer).__module__.startswith("fastapi."))


def inner_stack(app: FastAPI) -> ASGIApp:
    """The service app's middleware stack without the layers the front door already ran:
    its own 500 handler (which answers inside the gateway's request context, so the answer
    carries the request id) over its exception handlers and routes. Anything else on top —
    a tracing middleware, which nests the service's span in the gateway's — stops the walk
    and the whole stack is kept.

    Each layer skipped is one frame less to resume at every await of the request; these
    layers and FastAPI's own entry (which asks on every request whether its native
    telemetry is on) were 4-5% of the embedded profile read's CPU (py-spy, 2026-12-05)."""
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    top: ASGIApp = app.middleware_stack
    stack = top
    while _outer(stack):
        stack = stack.app  # type: ignore[attr-defined]
    if stack is top or not isinstance(top, ServerErrorMiddleware):
        return top
    return ServerErrorMiddleware(stack, handler=top.handler, debug=top.debug)


class ASGIUpstream:
    in_process = True

    def __init__(self, name: str, app: FastAPI) -> None:
        self.name = name
        self.app = app
        self._lifespan: contextlib.AbstractAsyncContextManager[Any] | None = None
        self._inner: ASGIApp | None = None

    async def startup(self) -> None:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()

    async def shutdown(self) -> None:
        if self._lifespan is not None:
            await self._lifespan.__aexit__(None, None, None)
            self._lifespan = None

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request to the service's stack below the layers already run (inner_stack),
        as the app itself would: the scope names the app (``request.app``), and the route
        template the service matched goes to the metrics and the access log."""
        if self._inner is None:  # once the app is built and instrumented
            self._inner = inner_stack(self.app)
        if self.app.root_path:
            scope["root_path"] = self.app.root_path
        scope["app"] = self.app
        try:
            await self._inner(scope, receive, send)
        finally:
            note_route(scope)

    async def openapi(self) -> dict[str, Any]:
        return self.app.openapi()


def in_process_databases(upstreams: dict[str, Upstream]) -> dict[str, Database]:
    """Each in-process service's own database (the embedded shape); none over HTTP."""
    out = {}
    for name, upstream in upstreams.items():
        db = getattr(upstream.app.state, "db", None) if isinstance(upstream, ASGIUpstream) \
            else None
        if isinstance(db, Database):
            out[name] = db
    return out


class HTTPUpstream:
    """A service over HTTP/1.1 keep-alive connections (shared.http1)."""

    in_process = False

    def __init__(self, name: str, base_url: str, *, timeout: float, connect_timeout: float,
                 pool_size: int, keepalive: float = 4.0) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        # connections are opened on first use, in the serving loop
        self.pool, self._prefix = Pool.for_url(self.base_url, size=pool_size,
                                               connect_timeout=connect_timeout,
                                               keepalive=keepalive)

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        self.pool.close()

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        target = self._prefix + scope.get("raw_path", scope["path"].encode())
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers = [(k, v) for k, v in scope["headers"] if k not in NOT_FORWARDED]
        method = scope["method"]
        started = False
        try:
            with client_span(method, self.base_url + scope["path"]) as call:
                async with asyncio.timeout(self._timeout), self.pool.request(
                        method, target, headers + call.headers, bytes(body)) as answer:
                    call.answered(answer.status)
                    out_headers = [(k, v) for k, v in answer.headers
                                   if k not in DROPPED_FROM_ANSWER]
                    if answer.length is not None and answer.length <= SMALL_BODY:
                        # the usual answer: read whole, passed on as one message (each
                        # message crosses every send wrapper of the gateway's stack)
                        body_bytes = await answer.read()
                        started = True
                        await send({"type": "http.response.start", "status": answer.status,
                                    "headers": out_headers})
                        await send({"type": "http.response.body", "body": body_bytes})
                        return
                    await send({"type": "http.response.start", "status": answer.status,
                                "headers": out_headers})
                    started = True
                    async for chunk in answer.chunks():
                        await send({"type": "http.response.body", "body": chunk,
                                    "more_body": True})
                    await send({"type": "http.response.body", "body": b"",
                                "more_body": False})
        except TimeoutError:
            log.warning("upstream_timeout", service=self.name, answering=started)
            if started:
                raise
            await render_error(UpstreamTimeout())(scope, receive, send)
        except OSError as exc:  # UpstreamClosed too
            # refused, reset, closed before answering or in the middle of the body: the
            # service is stopping or starting; once our own answer has begun it cannot change
            log.warning("upstream_unavailable", service=self.name, error=type(exc).__name__,
                        answering=started)
            if started:
                raise
            await render_error(ServiceUnavailable(headers=RETRY_AFTER))(scope, receive, send)

    async def openapi(self) -> dict[str, Any]:
        """The service's document; unreachable or not answering it (yet) → 503 (504 when
        slow), so the merged document is a problem to retry, not a 500, while it restarts."""
        try:
            async with asyncio.timeout(self._timeout), self.pool.request(
                    "GET", self._prefix + b"/openapi.json", []) as answer:
                body = await answer.read()
            if answer.status != 200:
                raise ServiceUnavailable(headers=RETRY_AFTER)
            doc: dict[str, Any] = orjson.loads(body)
            return doc
        except TimeoutError:
            raise UpstreamTimeout() from None
        except (OSError, orjson.JSONDecodeError):
            raise ServiceUnavailable(headers=RETRY_AFTER) from None


def http_upstreams(settings: Settings) -> dict[str, Upstream]:
    """The distributed shape: every service with a URL in settings, over pooled HTTP."""
    out: dict[str, Upstream] = {}
    for name in SERVICES:
        url = settings.upstream_url(name)
        if url:
            out[name] = HTTPUpstream(
                name, url, timeout=settings.upstream_timeout_seconds,
                connect_timeout=settings.upstream_connect_timeout_seconds,
                pool_size=settings.upstream_pool_size,
                keepalive=settings.upstream_keepalive_seconds)
    return out
