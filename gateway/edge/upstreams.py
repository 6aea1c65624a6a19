"""How the gateway reaches a service: in-process ASGI (embedded) or pooled HTTP (distributed).

Embedded: the ASGI call is handed to the service app directly — no serialisation, no socket.
Distributed: aiohttp's client with a keep-alive pool. httpx kept only 5-7% of direct
throughput here under 50 connections, aiohttp about half (see docs/decisions/0001).
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import aiohttp
import orjson
from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from yarl import URL

from shared.db import Database
from shared.errors import ServiceUnavailable, UpstreamTimeout, render_error
from shared.metrics import note_route
from shared.observability import RequestContextMiddleware
from shared.settings import SERVICES, Settings

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
    in_process = False

    def __init__(self, name: str, base_url: str, *, timeout: float, connect_timeout: float,
                 pool_size: int) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    async def startup(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30,
                                         ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("upstream used before startup")
        return self._session

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        url = self.base_url + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1"))
                   for k, v in scope["headers"] if k not in HOP_BY_HOP]
        started = False
        try:
            async with self.session.request(
                scope["method"], URL(url, encoded=True), headers=headers,
                data=bytes(body) if body else None, allow_redirects=False,
            ) as resp:
                out_headers = [(k.lower(), v) for k, v in resp.raw_headers
                               if k.lower() not in DROPPED_FROM_ANSWER]
                length = resp.content_length
                if length is not None and length <= SMALL_BODY:
                    # the usual answer: read whole, passed on as one message (each message
                    # crosses every send wrapper of the gateway's stack)
                    body_bytes = await resp.read()
                    started = True
                    await send({"type": "http.response.start", "status": resp.status,
                                "headers": out_headers})
                    await send({"type": "http.response.body", "body": body_bytes})
                    return
                await send({"type": "http.response.start", "status": resp.status,
                            "headers": out_headers})
                started = True
                async for chunk in resp.content.iter_chunked(65536):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (TimeoutError, aiohttp.ServerTimeoutError):
            if started:
                raise
            await render_error(UpstreamTimeout())(scope, receive, send)
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError):
            # refused, reset, closed before answering or in the middle of the body: the
            # service is stopping or starting; once our own answer has begun it cannot change
            if started:
                raise
            await render_error(ServiceUnavailable(headers=RETRY_AFTER))(scope, receive, send)

    async def openapi(self) -> dict[str, Any]:
        """The service's document; unreachable or not answering it (yet) → 503 (504 when
        slow), so the merged document is a problem to retry, not a 500, while it restarts."""
        try:
            async with self.session.get(self.base_url + "/openapi.json") as resp:
                resp.raise_for_status()
                doc: dict[str, Any] = orjson.loads(await resp.read())
                return doc
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout() from None
        except (aiohttp.ClientError, OSError):
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
                pool_size=settings.upstream_pool_size)
    return out
