"""The front door: one pure-ASGI layer every request passes before anything else.

In order: header size, route lookup, authentication (bearer token), route-level policy
(role and scope → 403), rate limit (→ 429 with RateLimit headers), then either the gateway's
own routes or a service, which receives the caller's identity as a signed assertion (over
HTTP) or in the request's scope (in-process). Any
identity header a caller sends is dropped: nobody outside may speak for the gateway.
Security headers are added to every response on the way out.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.edge.errors import BodyTooLarge, HeadersTooLarge, RateLimited, RouteForbidden
from gateway.edge.policy import allowed
from gateway.edge.ratelimit import Decision, Limiter, Quota
from gateway.edge.routing import Route, RouteTable
from gateway.edge.templates import TemplateIndex
from gateway.edge.upstreams import Upstream
from gateway.identity.tokens import TokenVerifier
from shared.errors import AppError, render_error
from shared.identity import (
    ASSERTION_HEADER_B,
    IDENTITY_SCOPE_KEY,
    AssertionSigner,
    Identity,
    bind_log_ids,
)
from shared.metrics import RATE_LIMITED, note_route
from shared.observability import current_request_id

DOCS_PATHS = {"/docs", "/openapi.json"}

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
API_ONLY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


class FrontDoor:
    def __init__(
        self, app: ASGIApp, *, routes: RouteTable, upstreams: dict[str, Upstream],
        verifier: TokenVerifier, signer: AssertionSigner, limiter: Limiter,
        quotas: dict[str, Quota], max_body_bytes: int, max_header_bytes: int,
    ) -> None:
        self.app = app
        self.routes = routes
        self.upstreams = upstreams
        self.verifier = verifier
        self.signer = signer
        self.limiter = limiter
        self.quotas = quotas
        self.max_body = max_body_bytes
        self.max_headers = max_header_bytes
        self.templates = TemplateIndex(upstreams)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        extra_headers = list(SECURITY_HEADERS)
        if path not in DOCS_PATHS:
            extra_headers += API_ONLY_HEADERS

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in extra_headers if h[0] not in present)]
            await send(message)

        try:
            await self._handle(scope, receive, send_secure, extra_headers)
        except AppError as exc:
            await self._name_refused(scope)
            await render_error(exc)(scope, receive, send_secure)

    async def _handle(self, scope: Scope, receive: Receive, send: Send,
                      extra_headers: list[tuple[bytes, bytes]]) -> None:
        headers, authorization, declared = self._screen_headers(scope)
        outer, scope = scope, dict(scope)
        scope["headers"] = headers
        path = scope["path"]
        route = self.routes.match(path)
        if route is not None:  # the access log and metrics name the route, not the path
            outer["ruta_route"] = route.pattern

        if route is None:
            if path == "/oauth/token":
                await self._limit(self._client_ip(scope), self.quotas["token"], extra_headers)
            await self._own(scope, await _bounded(receive, self.max_body, declared), send)
            return
        scope["ruta_route"] = route.pattern
        identity = await self._admit(scope, route, authorization, extra_headers)
        if identity is not None:
            bind_log_ids(identity)

        body = await _bounded(receive, self.max_body, declared)
        if route.upstream == "gateway":
            scope[IDENTITY_SCOPE_KEY] = _with_request_id(identity)
            await self._own(scope, body, send)
            return
        upstream = self.upstreams.get(route.upstream)
        if upstream is None:
            await self.app(scope, receive, send)  # → 404 problem
            return
        if identity is not None:
            if upstream.in_process:
                # shared/identity.py says why
                scope[IDENTITY_SCOPE_KEY] = _with_request_id(identity)
            else:  # the request id travels in its own header
                headers.append((ASSERTION_HEADER_B, self.signer.sign(identity)))
        await upstream.forward(scope, body, send)

    async def _name_refused(self, scope: Scope) -> None:
        """A refused forwarded request is counted under the service's template."""
        route = self.routes.match(scope["path"])
        if route is not None and route.upstream != "gateway":
            note_route(scope, await self.templates.template(route, scope["path"]))

    async def _own(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The gateway's own routes, on a copy of the scope: the template the router matched
        there is handed back for the metrics and the access log."""
        try:
            await self.app(scope, receive, send)
        finally:
            note_route(scope)

    def _screen_headers(self, scope: Scope
                        ) -> tuple[list[tuple[bytes, bytes]], bytes | None, bool]:
        """The headers passed on (without any identity assertion a caller sent), the
        Authorization value, and whether the body's length was declared; refuses oversized
        headers and a declared length over the limit before reading anything."""
        headers = []
        size = 0
        authorization = None
        content_length = None
        for k, v in scope["headers"]:
            size += len(k) + len(v)
            if k == b"authorization":
                authorization = v
            elif k == ASSERTION_HEADER_B:
                continue
            elif k == b"content-length":
                content_length = v
            headers.append((k, v))
        if size > self.max_headers:
            raise HeadersTooLarge()
        if content_length is not None and (
            not content_length.isdigit() or int(content_length) > self.max_body
        ):
            raise BodyTooLarge(limit=self.max_body)
        declared = content_length is not None or scope["method"] in ("GET", "HEAD", "OPTIONS")
        return headers, authorization, declared

    async def _admit(self, scope: Scope, route: Route, authorization: bytes | None,
                     extra_headers: list[tuple[bytes, bytes]]) -> Identity | None:
        """Who the caller is (None on a public route) once policy and rate limit let it in."""
        if route.public:
            await self._limit(self._client_ip(scope), self.quotas["public"], extra_headers)
            return None
        identity = await self.verifier.verify_header(authorization)
        if not allowed(identity, scope["method"], scope["path"]):
            raise RouteForbidden()
        quota = self.quotas["read" if scope["method"] in ("GET", "HEAD") else "write"]
        await self._limit(identity.subject, quota, extra_headers)
        return identity

    async def _limit(self, key: str, quota: Quota, extra_headers: list[tuple[bytes, bytes]]
                     ) -> Decision:
        decision = await self.limiter.hit(key, quota)
        extra_headers.extend(decision.headers(quota))
        if not decision.allowed:
            RATE_LIMITED.labels(quota.name).inc()
            raise RateLimited(retry_after=decision.retry_after)
        return decision

    @staticmethod
    def _client_ip(scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "unknown"


def _with_request_id(identity: Identity | None) -> Identity | None:
    """The identity handed on in-process carries this request's id (the audit rows'), as a
    service reached over HTTP takes it from its own request context."""
    if identity is None or (rid := current_request_id()) is None:
        return identity
    return replace(identity, request_id=rid)


async def _bounded(receive: Receive, limit: int, declared: bool) -> Receive:
    """A body with a declared length (already checked) streams through; a chunked one is
    read here first, so an oversized body is refused before anything downstream sees it."""
    if declared:
        return receive
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit=limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
