"""Organisations, machine clients and the OAuth2 token endpoint, as an operator uses them."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from gateway.identity.keys import rotate_signing_key
from gateway.identity.machine_clients import ensure_bootstrap_admin
from shared.db import Database
from shared.settings import Settings
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory


def admin(auth: TokenFactory, **extra: str) -> dict[str, str]:
    return auth("admin", org=None, regions=[], **extra)


async def make_org(client: httpx.AsyncClient, auth: TokenFactory, org_id: str = "ong-tumbes",
                   regions: list[str] | None = None) -> dict[str, Any]:
    resp = await client.post("/v1/organisations", headers=admin(auth), json={
        "id": org_id, "name": "Red Solidaria Tumbes", "kind": "ngo", "country": "PE",
        "regions": regions or ["PE-LMA", "PE-TUM"]})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def make_client(client: httpx.AsyncClient, auth: TokenFactory, org_id: str,
                      role: str = "ngo_partner", **extra: Any) -> dict[str, Any]:
    resp = await client.post("/v1/clients", headers=admin(auth), json={
        "name": "Integración", "organisation_id": org_id, "role": role, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def token(client: httpx.AsyncClient, client_id: str, secret: str, *, basic: bool = True,
                **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", **form}
    if basic:
        raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return await client.post("/oauth/token", data=data,
                                 headers={"Authorization": f"Basic {raw}"})
    return await client.post("/oauth/token",
                             data={**data, "client_id": client_id, "client_secret": secret})


async def test_client_credentials_flow(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    await make_org(client, auth)
    created = await make_client(client, auth, "ong-tumbes", regions=["PE-LMA"])
    assert created["client_secret"].startswith("rsec_")
    listed = await client.get(f"/v1/clients/{created['client_id']}", headers=admin(auth))
    assert "client_secret" not in listed.json()  # shown once only

    for basic in (True, False):
        issued = await token(client, created["client_id"], created["client_secret"],
                             basic=basic)
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0
        assert issued.headers["cache-control"] == "no-store"
        me = await client.get("/v1/me", headers={
            "Authorization": f"Bearer {body['access_token']}"})
        assert me.json() == {
            "subject": created["client_id"], "kind": "client", "role": "ngo_partner",
            "organisation_id": "ong-tumbes", "regions": ["PE-LMA"], "permissions": [],
            "scopes": sorted(body["scope"].split())}
        made = await client.post("/v1/profiles", json=profile_payload(), headers={
            "Authorization": f"Bearer {body['access_token']}"})
        assert made.status_code == 201
        assert made.json()["organisation_id"] == "ong-tumbes"


@pytest.mark.invalid_request
async def test_oauth_errors_use_rfc6749_shape(client: httpx.AsyncClient,
                                              auth: TokenFactory) -> None:
    await make_org(client, auth)
    c = await make_client(client, auth, "ong-tumbes")
    wrong = await token(client, c["client_id"], "rsec_wrong")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    unknown = await token(client, "cli_nobody", "whatever", basic=False)
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    grant = await client.post("/oauth/token", data={"grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = await client.post("/oauth/token", data={})
    assert missing.json()["error"] == "invalid_request"
    as_json = await client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert as_json.json()["error"] == "invalid_request"
    scope = await token(client, c["client_id"], c["client_secret"], scope="admin")
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    narrowed = await token(client, c["client_id"], c["client_secret"], scope="profiles:read")
    assert narrowed.json()["scope"] == "profiles:read"
    write = await client.post("/v1/profiles", json=profile_payload(), headers={
        "Authorization": f"Bearer {narrowed.json()['access_token']}"})
    assert write.status_code == 403  # the token's scope does not cover writes


@pytest.mark.invalid_request
async def test_secret_rotation_keeps_old_secret_during_overlap_and_disable_is_immediate(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    await make_org(client, auth)
    c = await make_client(client, auth, "ong-tumbes")
    url = f"/v1/clients/{c['client_id']}"
    etag = (await client.get(url, headers=admin(auth))).headers["etag"]
    no_match = await client.post(f"{url}/rotate-secret", headers=admin(auth))
    assert no_match.status_code == 428
    rotated = await client.post(f"{url}/rotate-secret", headers=admin(auth, **{"If-Match": etag}))
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert (await token(client, c["client_id"], c["client_secret"])).status_code == 200
    live = await token(client, c["client_id"], new_secret)
    assert live.status_code == 200
    bearer = {"Authorization": f"Bearer {live.json()['access_token']}"}
    assert (await client.get("/v1/me", headers=bearer)).status_code == 200

    disabled = await client.post(f"{url}/disable",
                                 headers=admin(auth, **{"If-Match": rotated.headers["etag"]}))
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    assert (await client.get("/v1/me", headers=bearer)).status_code == 401
    assert (await token(client, c["client_id"], new_secret)).status_code == 401
    # the overlap ends with the disable: the old secret does not come back either
    assert (await token(client, c["client_id"], c["client_secret"])).status_code == 401

    enabled = await client.post(f"{url}/enable",
                                headers=admin(auth, **{"If-Match": disabled.headers["etag"]}))
    assert enabled.status_code == 200
    assert (await token(client, c["client_id"], new_secret)).status_code == 200


@pytest.mark.invalid_request
async def test_admin_api_validates_and_refuses_others(client: httpx.AsyncClient,
                                                      auth: TokenFactory) -> None:
    bad = await client.post("/v1/organisations", headers=admin(auth), json={
        "id": "x-org", "name": "X", "kind": "ngo", "country": "PE", "regions": ["EC-P"]})
    assert bad.status_code == 422
    extra = await client.post("/v1/organisations", headers=admin(auth), json={
        "id": "y-org", "name": "Y org", "kind": "ngo", "country": "PE", "regions": ["PE-LMA"],
        "status": "active"})
    assert extra.status_code == 422
    await make_org(client, auth)
    dup = await client.post("/v1/organisations", headers=admin(auth), json={
        "id": "ong-tumbes", "name": "Otra", "kind": "ngo", "country": "PE",
        "regions": ["PE-LMA"]})
    assert dup.status_code == 409
    for role in ("caseworker", "coordinator", "ngo_partner", "provider", "ministry_system"):
        assert (await client.get("/v1/organisations", headers=auth(role))).status_code == 403
        assert (await client.post("/v1/clients", headers=auth(role), json={
            "name": "x", "organisation_id": "ong-tumbes", "role": "admin"})).status_code == 403
    wrong_scope = await client.post("/v1/clients", headers=admin(auth), json={
        "name": "x", "organisation_id": "ong-tumbes", "role": "ngo_partner",
        "scopes": ["admin"]})
    assert wrong_scope.status_code == 422
    outside = await client.post("/v1/clients", headers=admin(auth), json={
        "name": "x", "organisation_id": "ong-tumbes", "role": "ngo_partner",
        "regions": ["PE-CUS"]})
    assert outside.status_code == 422
    mass = await client.post("/v1/clients", headers=admin(auth), json={
        "name": "x", "organisation_id": "ong-tumbes", "role": "ngo_partner",
        "status": "active", "secret_hash": "x"})
    assert mass.status_code == 422
    page = await client.get("/v1/organisations", params={"limit": 1}, headers=admin(auth))
    assert page.status_code == 200 and len(page.json()["items"]) == 1


async def test_bootstrap_admin_is_made_once_and_never_rekeyed(dbs: dict[str, Database],
                                                              client: httpx.AsyncClient) -> None:
    first = Settings(bootstrap_admin_client_id="ops-admin",
                     bootstrap_admin_client_secret="s" * 32)
    assert await ensure_bootstrap_admin(db=dbs["gateway"], settings=first) is True
    ok = await token(client, "ops-admin", "s" * 32)
    assert ok.status_code == 200 and "admin" in ok.json()["scope"]
    again = Settings(bootstrap_admin_client_id="ops-admin",
                     bootstrap_admin_client_secret="t" * 32)
    assert await ensure_bootstrap_admin(db=dbs["gateway"], settings=again) is False
    assert (await token(client, "ops-admin", "t" * 32)).status_code == 401


async def test_signing_key_rotation_keeps_old_tokens_valid(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database],
    app: object,
) -> None:
    old = auth("caseworker")
    before = (await client.get("/.well-known/jwks.json")).json()["keys"]
    new_kid = await rotate_signing_key(dbs["gateway"], Settings())
    keys = app.state.keys  # type: ignore[attr-defined]
    await keys.refresh(force=True)
    after = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert new_kid in {k["kid"] for k in after}
    assert {k["kid"] for k in before} <= {k["kid"] for k in after}
    assert all("d" not in k for k in after)  # never a private part
    assert (await client.get("/v1/me", headers=old)).status_code == 200
    assert keys.active().kid == new_kid


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/healthz", "/openapi.json"])
async def test_public_operational_paths_need_no_token(path: str,
                                                      client: httpx.AsyncClient) -> None:
    assert (await client.get(path)).status_code == 200
