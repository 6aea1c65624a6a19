"""The front door for service paths: authenticate, vouch for the caller, forward.

A pure ASGI layer in front of the gateway's own routes. It strips any identity header a
caller sent (nobody outside may speak for the gateway), verifies the bearer token and adds
the signed assertion the services trust.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import TokenVerifier
from gateway.routing import RouteTable
from gateway.upstreams import Upstream
from shared.errors import AppError, render_error
from shared.i18n import Text
from shared.identity import ASSERTION_HEADER_B, AssertionSigner, Identity
from shared.observability import current_request_id


class BodyTooLarge(AppError):
    status = 413
    code = "body-too-large"
    detail_text = Text("El cuerpo de la solicitud supera el tamaño máximo ({limit} bytes).",
                       "The request body exceeds the maximum size ({limit} bytes).")


class ProxyMiddleware:
    def __init__(
        self, app: ASGIApp, *, routes: RouteTable, upstreams: dict[str, Upstream],
        verifier: TokenVerifier, signer: AssertionSigner, max_body_bytes: int,
    ) -> None:
        self.app = app
        self.routes = routes
        self.upstreams = upstreams
        self.verifier = verifier
        self.signer = signer
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.routes.match(scope["path"])
        if route is None or route.upstream not in self.upstreams:
            await self.app(scope, receive, send)
            return
        scope["ruta_route"] = route.pattern
        authorization = None
        content_length = None
        headers = []
        for k, v in scope["headers"]:
            if k == b"authorization":
                authorization = v
            elif k == ASSERTION_HEADER_B:
                continue  # only the gateway may speak for the caller
            elif k == b"content-length":
                content_length = v
            headers.append((k, v))
        try:
            if content_length is not None and (
                not content_length.isdigit() or int(content_length) > self.max_body
            ):
                raise BodyTooLarge(limit=self.max_body)
            if not route.public:
                identity = self.verifier.verify_header(authorization)
                if (rid := current_request_id()) is not None:
                    identity = _with_request_id(identity, rid)
                headers.append((ASSERTION_HEADER_B, self.signer.sign(identity)))
        except AppError as exc:
            await render_error(exc)(scope, receive, send)
            return
        child = dict(scope)
        child["headers"] = headers
        await self.upstreams[route.upstream].forward(
            child, _limited(receive, self.max_body), send)


def _with_request_id(identity: Identity, request_id: str) -> Identity:
    return replace(identity, request_id=request_id)


def _limited(receive: Receive, limit: int) -> Receive:
    """Counts streamed body bytes: a chunked body cannot slip past the size limit."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit=limit)
        return message

    return wrapped
