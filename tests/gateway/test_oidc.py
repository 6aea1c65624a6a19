"""The test plays the identity provider: its JWKS on loopback, trusted via RUTA_OIDC_ISSUERS."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jose import jwk, jwt

from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload

ISSUER = "https://idp.ruta.test/realms/caseworkers"
AUDIENCE = "ruta-frontend"


class IdP:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()
        public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.jwk = {**jwk.construct(public_pem, "RS256").to_dict(), "kid": "idp-1",
                    "use": "sig", "alg": "RS256"}
        self.hits = 0

    def token(self, *, key_pem: str | None = None, kid: str = "idp-1", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-123", "iat": now, "exp": now + 300,
                "https://ruta/role": "caseworker", "https://ruta/org": "ong-lima",
                "https://ruta/regions": ["PE-LMA"]}
        body.update(claims)
        return jwt.encode({k: v for k, v in body.items() if v is not None},
                          key_pem or self.pem, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[IdP, str]]:
    provider = IdP()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.hits += 1
            body = json.dumps({"keys": [provider.jwk]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    yield provider, f"http://127.0.0.1:{server.server_address[1]}/certs"
    server.shutdown()


@pytest.fixture
async def oidc_client(idp: tuple[IdP, str], dbs: dict[str, Database]
                      ) -> AsyncIterator[httpx.AsyncClient]:
    _, url = idp
    settings = Settings(oidc_issuers=json.dumps([{
        "issuer": ISSUER, "jwks_url": url, "audience": AUDIENCE,
        "claims": {"role": "https://ruta/role", "organisation": "https://ruta/org",
                   "regions": "https://ruta/regions",
                   "permissions": "https://ruta/permissions"}}]))
    app: FastAPI = create_embedded_app(settings, dbs)
    async with app.router.lifespan_context(app), contract_client(app) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_caseworker_from_the_idp_works_with_mapped_claims(
    idp: tuple[IdP, str], oidc_client: httpx.AsyncClient
) -> None:
    provider, _ = idp
    token = provider.token()
    me = await oidc_client.get("/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json() == {"subject": f"{ISSUER}#u-123", "kind": "user", "role": "caseworker",
                         "organisation_id": "ong-lima", "regions": ["PE-LMA"],
                         "permissions": [], "scopes": None}
    made = await oidc_client.post("/v1/profiles", json=profile_payload(), headers=bearer(token))
    assert made.status_code == 201
    assert made.json()["organisation_id"] == "ong-lima"
    outside = await oidc_client.post("/v1/profiles", json=profile_payload(region="PE-CUS"),
                                     headers=bearer(token))
    assert outside.status_code == 403  # region outside the mapped regions
    assert (await oidc_client.get("/v1/organisations", headers=bearer(token))).status_code == 403


async def test_permissions_come_only_from_the_mapped_claim(
    idp: tuple[IdP, str], oidc_client: httpx.AsyncClient
) -> None:
    provider, _ = idp
    with_perm = provider.token(**{"https://ruta/permissions": ["sensitive:read"]})
    me = await oidc_client.get("/v1/me", headers=bearer(with_perm))
    assert me.json()["permissions"] == ["sensitive:read"]
    elsewhere = provider.token(permissions=["sensitive:read"])  # not the configured claim
    assert (await oidc_client.get("/v1/me", headers=bearer(elsewhere))).json()[
        "permissions"] == []


async def test_tokens_outside_the_idp_jwks_are_refused(
    idp: tuple[IdP, str], oidc_client: httpx.AsyncClient
) -> None:
    provider, _ = idp
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    for token in (
        provider.token(key_pem=stranger),                 # same kid, other key
        provider.token(key_pem=stranger, kid="idp-2"),    # unknown kid
        provider.token(aud="another-app"),
        provider.token(iss="https://idp.evil.test"),
        provider.token(**{"https://ruta/role": "system"}),
        provider.token(exp=int(time.time()) - 600),
    ):
        resp = await oidc_client.get("/v1/me", headers=bearer(token))
        assert resp.status_code == 401


async def test_unknown_kids_do_not_hammer_the_idp(idp: tuple[IdP, str],
                                                  oidc_client: httpx.AsyncClient) -> None:
    provider, _ = idp
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    before = provider.hits
    for i in range(20):
        token = provider.token(key_pem=stranger, kid=f"made-up-{i}")
        assert (await oidc_client.get("/v1/me", headers=bearer(token))).status_code == 401
    assert provider.hits - before <= 1  # refreshed at most once per minute
