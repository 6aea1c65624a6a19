"""How a service learns who called: in the embedded shape the front door leaves the identity
it admitted in the request's scope (nothing signed, nothing verified); over HTTP the service
gets the signed assertion. Either way the service sees the caller the token names, and a
header a caller sends never speaks for anyone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.edge.upstreams import ASGIUpstream, Upstream
from shared.db import Database
from shared.errors import install_error_handlers
from shared.identity import (
    ASSERTION_HEADER,
    IDENTITY_SCOPE_KEY,
    AssertionSigner,
    CurrentIdentity,
    Identity,
    Role,
)
from shared.settings import Settings
from tests.support.tokens import TokenFactory


def _service(settings: Settings) -> FastAPI:
    """A service route that says whom it serves and whether a signed assertion came."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.assertion_signer = AssertionSigner(settings.internal_secret)

    @app.get("/v1/profiles/{profile_id}")
    async def whoami(profile_id: str, identity: CurrentIdentity, request: Request
                     ) -> dict[str, Any]:
        return {"organisation_id": identity.organisation_id, "role": str(identity.role),
                "signed": ASSERTION_HEADER in request.headers,
                "in_scope": IDENTITY_SCOPE_KEY in request.scope}

    return app


class OverTheWire:
    """The service as if over HTTP: what reaches it is only what a socket would carry."""

    in_process = False

    def __init__(self, app: FastAPI) -> None:
        self.name = "registry"
        self.app = app

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        wire = {k: v for k, v in scope.items() if not k.startswith("ruta.")}
        await self.app(wire, receive, send)

    async def openapi(self) -> dict[str, Any]:
        return {"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": {}}


async def _client(tmp_path: Path, db: Database, upstream: Upstream
                  ) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path, background_tasks=False)
    app = create_app(settings, db, {"registry": upstream})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ruta.test") as c:
            yield c


@pytest.mark.parametrize("in_process", [True, False], ids=["embedded", "over-http"])
async def test_the_service_serves_the_caller_the_token_names(
    tmp_path: Path, dbs: dict[str, Database], auth: TokenFactory, in_process: bool
) -> None:
    service = _service(Settings(data_dir=tmp_path))
    upstream: Upstream = ASGIUpstream("registry", service) if in_process \
        else OverTheWire(service)
    forged = AssertionSigner(Settings(data_dir=tmp_path).internal_secret).sign(
        Identity(subject="x", role=Role.ADMIN, organisation_id="ong-forged")).decode()
    async for client in _client(tmp_path, dbs["gateway"], upstream):
        resp = await client.get("/v1/profiles/p1",
                                headers={**auth(org="ong-real"), ASSERTION_HEADER: forged})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"organisation_id": "ong-real", "role": "caseworker",
                               "signed": not in_process, "in_scope": in_process}
        # no token: the forged assertion (validly signed with the internal secret) gets
        # nobody in
        anon = await client.get("/v1/profiles/p1", headers={ASSERTION_HEADER: forged})
        assert anon.status_code == 401


async def test_a_service_reached_without_the_gateway_needs_the_signed_assertion(
    tmp_path: Path
) -> None:
    """The scope key is set only by the front door: a service's own server never sets it,
    so a request that reaches a service directly must carry a valid assertion."""
    service = _service(Settings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=service)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as c:
        assert (await c.get("/v1/profiles/p1")).status_code == 401
        bad = AssertionSigner("another-secret-of-at-least-32-bytes!!").sign(
            Identity(subject="x", role=Role.ADMIN, organisation_id="o")).decode()
        assert (await c.get("/v1/profiles/p1", headers={ASSERTION_HEADER: bad})
                ).status_code == 401
