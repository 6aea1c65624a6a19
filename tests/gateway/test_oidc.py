"""The test plays the identity providers: their JWKS on loopback, trusted via RUTA_OIDC_ISSUERS.

Two providers, as in a deployment: a ministry's, bounded to its organisation and to
caseworker and coordinator, and the operator's own (``operator: true``), the only one that
may grant ``admin`` (issue 16, item 8).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import structlog.testing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jose import jwk, jwt

from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.json_server import serve_json
from tests.support.payloads import profile_payload

ISSUER = "https://idp.ruta.test/realms/caseworkers"
OPERATOR_ISSUER = "https://idp.ruta.test/realms/operacion"
AUDIENCE = "ruta-frontend"
CLAIMS = {"role": "https://ruta/role", "organisation": "https://ruta/org",
          "regions": "https://ruta/regions", "permissions": "https://ruta/permissions"}


class IdP:
    def __init__(self, issuer: str = ISSUER, kid: str = "idp-1") -> None:
        self.issuer, self.kid = issuer, kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()
        public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.jwk = {**jwk.construct(public_pem, "RS256").to_dict(), "kid": kid,
                    "use": "sig", "alg": "RS256"}
        self.hits = 0

    def token(self, *, key_pem: str | None = None, kid: str | None = None, **claims: Any
              ) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "sub": "u-123", "iat": now, "exp": now + 300,
                "https://ruta/role": "caseworker", "https://ruta/org": "ong-lima",
                "https://ruta/regions": ["PE-LMA"]}
        body.update(claims)
        return jwt.encode({k: v for k, v in body.items() if v is not None},
                          key_pem or self.pem, algorithm="RS256",
                          headers={"kid": kid or self.kid})


def serve_jwks(provider: IdP) -> Iterator[tuple[IdP, str]]:
    """The provider's JWKS on a local server; ``provider.hits`` counts the fetches."""
    def keys() -> dict[str, Any]:
        provider.hits += 1
        return {"keys": [provider.jwk]}

    with serve_json(keys) as (base, _):
        yield provider, f"{base}/certs"


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[IdP, str]]:
    """The ministry's provider (the organisation ong-lima works through it)."""
    yield from serve_jwks(IdP())


@pytest.fixture(scope="module")
def operator_idp() -> Iterator[tuple[IdP, str]]:
    yield from serve_jwks(IdP(OPERATOR_ISSUER, kid="ops-1"))


def trusted(idp: tuple[IdP, str], operator_idp: tuple[IdP, str]) -> list[dict[str, Any]]:
    return [
        {"issuer": ISSUER, "jwks_url": idp[1], "audience": AUDIENCE, "claims": CLAIMS,
         "organisations": ["ong-lima"], "roles": ["caseworker", "coordinator"]},
        {"issuer": OPERATOR_ISSUER, "jwks_url": operator_idp[1], "audience": AUDIENCE,
         "claims": CLAIMS, "organisations": "*", "roles": ["admin", "coordinator"],
         "operator": True},
    ]


@asynccontextmanager
async def gateway(issuers: list[dict[str, Any]], dbs: dict[str, Database]
                  ) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_embedded_app(Settings(oidc_issuers=json.dumps(issuers)), dbs)
    async with app.router.lifespan_context(app), contract_client(app) as c:
        yield c


@pytest.fixture
async def oidc_client(idp: tuple[IdP, str], operator_idp: tuple[IdP, str],
                      dbs: dict[str, Database]) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(trusted(idp, operator_idp), dbs) as c:
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


# --- each provider is trusted only within its bounds (issue 16, item 8) ---------------------

def assert_refused_without_echo(resp: httpx.Response, *echoes: str) -> None:
    """A 401 problem that says the token is not valid, and nothing of what the token said."""
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == 401 and problem["type"] and problem["detail"]
    assert not any(echo in resp.text for echo in echoes)


@pytest.mark.parametrize(("claims", "echo"), [
    ({"https://ruta/org": "ong-cusco"}, "ong-cusco"),          # organisation outside its list
    ({"https://ruta/org": None}, "u-123"),                     # no organisation at all
    ({"https://ruta/role": "provider"}, "provider"),           # role outside its list
    ({"https://ruta/role": "admin"}, "admin"),                 # not the operator's provider
    ({"https://ruta/role": "admin", "https://ruta/org": None}, "admin"),
])
async def test_a_provider_asserting_beyond_its_bounds_gets_401(
    idp: tuple[IdP, str], oidc_client: httpx.AsyncClient, claims: dict[str, Any], echo: str,
) -> None:
    provider, _ = idp
    resp = await oidc_client.get("/v1/me", headers=bearer(provider.token(**claims)))
    assert_refused_without_echo(resp, echo, ISSUER)
    # and the same token is refused again (nothing half-accepted is cached)
    again = await oidc_client.get("/v1/organisations", headers=bearer(provider.token(**claims)))
    assert again.status_code == 401


async def test_inside_its_bounds_the_ministry_provider_is_trusted(
    idp: tuple[IdP, str], oidc_client: httpx.AsyncClient
) -> None:
    provider, _ = idp
    me = await oidc_client.get("/v1/me", headers=bearer(
        provider.token(**{"https://ruta/role": "coordinator"})))
    assert me.status_code == 200, me.text
    assert (me.json()["role"], me.json()["organisation_id"]) == ("coordinator", "ong-lima")


async def test_only_the_operators_provider_grants_admin(
    idp: tuple[IdP, str], operator_idp: tuple[IdP, str], oidc_client: httpx.AsyncClient
) -> None:
    operator, _ = operator_idp
    admin = operator.token(**{"https://ruta/role": "admin", "https://ruta/org": None})
    me = await oidc_client.get("/v1/me", headers=bearer(admin))
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin" and me.json()["subject"] == f"{OPERATOR_ISSUER}#u-123"
    assert (await oidc_client.get("/v1/organisations", headers=bearer(admin))).status_code == 200
    # "*": the operator's provider may speak for any organisation, within its roles
    other = operator.token(**{"https://ruta/role": "coordinator", "https://ruta/org": "ong-x"})
    assert (await oidc_client.get("/v1/me", headers=bearer(other))).json()[
        "organisation_id"] == "ong-x"
    assert (await oidc_client.get("/v1/me", headers=bearer(operator.token()))
            ).status_code == 401  # caseworker is not among the operator provider's roles
    # the ministry's key cannot pass itself off as the operator's provider
    ministry, _ = idp
    forged = ministry.token(iss=OPERATOR_ISSUER, **{"https://ruta/role": "admin"})
    assert_refused_without_echo(await oidc_client.get("/v1/me", headers=bearer(forged)))
    forged = ministry.token(iss=OPERATOR_ISSUER, kid="ops-1", **{"https://ruta/role": "admin"})
    assert_refused_without_echo(await oidc_client.get("/v1/me", headers=bearer(forged)))


async def test_development_trusts_an_unbounded_entry_with_a_warning_but_never_for_admin(
    idp: tuple[IdP, str], dbs: dict[str, Database]
) -> None:
    provider, url = idp
    unbounded = [{"issuer": ISSUER, "jwks_url": url, "audience": AUDIENCE, "claims": CLAIMS}]
    with structlog.testing.capture_logs() as logs:
        async with gateway(unbounded, dbs) as client:
            other = provider.token(**{"https://ruta/org": "ong-cusco"})
            assert (await client.get("/v1/me", headers=bearer(other))).status_code == 200
            admin = provider.token(**{"https://ruta/role": "admin"})
            assert (await client.get("/v1/me", headers=bearer(admin))).status_code == 401
    warnings = [e for e in logs if e["event"] == "oidc_issuer_unbounded"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    assert warnings[0]["entry"] == 0 and warnings[0]["issuer"] == ISSUER
    assert "u-123" not in str(logs) and "ong-cusco" not in str(logs)


@pytest.mark.invalid_request
async def test_the_token_endpoints_errors_name_nothing_submitted(
    idp: tuple[IdP, str], oidc_client: httpx.AsyncClient
) -> None:
    """/oauth/token answers in RFC 6749's shape (OAuth clients parse it; kept on purpose),
    a bearer token refused anywhere is an RFC 9457 problem; neither echoes what was sent."""
    provider, _ = idp
    sent = {"client_id": "cli_leak-id", "client_secret": "rsec_leak-secret",
            "scope": "leak-scope"}
    for form in ({"grant_type": "client_credentials", **sent},
                 {"grant_type": "leak-grant", **sent}, {"client_id": "cli_leak-id"}):
        resp = await oidc_client.post("/oauth/token", data=form)
        assert resp.status_code in (400, 401) and resp.json()["error"]
        assert resp.headers["cache-control"] == "no-store"
        assert "leak" not in resp.text
    token = provider.token(**{"https://ruta/org": "ong-leak", "sub": "leak-subject"})
    resp = await oidc_client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                  headers=bearer(token))
    assert resp.status_code == 401 and "leak" not in resp.text
    assert_refused_without_echo(await oidc_client.get("/v1/me", headers=bearer(token)),
                                "leak", token[:20])
