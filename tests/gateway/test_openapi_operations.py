"""Every operation of the merged document as an integrator reads it: a chosen id, what it
does, who may call it, its errors, its security requirement and its headers, true to what
the system sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.edge.policy import POLICY
from tests.gateway.test_oauth_and_admin import admin, make_org
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

METHODS = ("get", "put", "post", "patch", "delete")
PUBLIC = {("post", "/oauth/token"), ("get", "/.well-known/jwks.json"),
          ("post", "/v1/credentials/verify"), ("get", "/v1/credentials/issuer/jwks.json"),
          ("get", "/v1/credentials/issuer/profile"),
          ("get", "/v1/credentials/issuer/status/{list_id}/{purpose}"),
          ("post", "/v1/inbound/{source}"), ("get", "/v1/transfers/deployment"),
          ("get", "/v1/transfers/jwks.json"), ("get", "/healthz"), ("get", "/readyz"),
          ("get", "/metrics")}


@pytest.fixture
async def doc(client: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/openapi.json")).json()
    return body


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_operation_ids_are_chosen_not_generated(doc: dict[str, Any]) -> None:
    ids = [op.get("operationId", "") for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)) >= 74
    generated = [i for i in ids if not re.fullmatch(r"[a-z]+(_[a-z]+)+", i) or "_v1_" in i
                 or "__" in i or re.search(r"_(get|post|put|patch|delete)$", i)]
    assert generated == []
    by_route = {(m, p): op["operationId"] for m, p, op in operations(doc)}
    assert by_route[("post", "/v1/profiles")] == "profiles_create"
    assert by_route[("get", "/v1/profiles/{profile_id}")] == "profiles_read"
    assert by_route[("post", "/v1/referrals/{referral_id}/transitions")] == \
        "referrals_transition"
    assert by_route[("post", "/v1/profiles/{profile_id}/consents/{consent_id}/withdraw")] == \
        "consents_withdraw"


def test_every_operation_says_what_it_does_who_may_call_it_and_its_errors(
    doc: dict[str, Any]
) -> None:
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        what, _, rest = op.get("description", "").partition("**Who may call:**")
        assert len(what.strip()) > 20, f"{where}: says nothing of what it does"
        assert rest, f"{where}: does not say who may call it"
        errors = sorted(s for s in op["responses"] if s[:1] in "45")
        for status in errors:
            assert f"- `{status}`: " in rest, f"{where}: error {status} is not explained"
        assert op.get("tags"), where
    described = {t["name"]: t.get("description") for t in doc["tags"]}
    used = {t for _, _, op in operations(doc) for t in op["tags"]}
    assert used <= {name for name, text in described.items() if text}


def test_security_requirements_come_from_the_route_policy(doc: dict[str, Any]) -> None:
    scopes = set(doc["components"]["securitySchemes"]["oauth2"]["flows"][
        "clientCredentials"]["scopes"])
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert "security" in op, where
        if (method, path) in PUBLIC:
            assert op["security"] == [], where
            assert "anyone, without a token" in op["description"], where
            continue
        concrete = path.replace("{", "x").replace("}", "x")
        rule = next(r for r in POLICY if method.upper() in r.methods
                    and r.regex.match(concrete))
        assert op["security"] == [{"bearerAuth": []},
                                  {"oauth2": [rule.scope] if rule.scope else []}], where
        assert set(op["security"][1]["oauth2"]) <= scopes
        for role in rule.roles:
            assert f"`{role.value}`" in op["description"], f"{where}: {role}"
    by_route = {(m, p): op for m, p, op in operations(doc)}
    assert by_route[("post", "/v1/clients")]["security"][1] == {"oauth2": ["admin"]}
    assert by_route[("get", "/v1/profiles")]["security"][1] == {"oauth2": ["profiles:read"]}


def _header_params(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    params = {}
    for p in op.get("parameters", []):
        if "$ref" in p:
            p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        if p["in"] == "header":
            params[p["name"]] = p
    return params


def test_request_headers_are_declared(doc: dict[str, Any]) -> None:
    by_route = {(m, p): op for m, p, op in operations(doc)}
    for (method, path), op in by_route.items():
        headers = _header_params(doc, op)
        assert {"Accept-Language", "X-Request-ID"} <= set(headers), f"{method} {path}"
        assert not headers["X-Request-ID"]["required"]
    idempotent = ["/v1/profiles", "/v1/referrals", "/v1/pathways", "/v1/credentials",
                  "/v1/organisations", "/v1/profiles/{profile_id}/consents",
                  "/v1/referrals/{referral_id}/transitions"]
    for path in idempotent:
        assert "Idempotency-Key" in _header_params(doc, by_route[("post", path)]), path
    for key in [("patch", "/v1/profiles/{profile_id}"), ("delete", "/v1/profiles/{profile_id}"),
                ("post", "/v1/referrals/{referral_id}/transitions"),
                ("post", "/v1/clients/{client_id}/disable")]:
        assert _header_params(doc, by_route[key])["If-Match"]["required"], key
    # withdrawing a consent is always honoured: If-Match is checked only when sent
    withdraw = by_route[("post", "/v1/profiles/{profile_id}/consents/{consent_id}/withdraw")]
    assert not _header_params(doc, withdraw)["If-Match"].get("required")


def _declared(doc: dict[str, Any], method: str, path: str, status: int) -> set[str]:
    response = doc["paths"][path][method]["responses"][str(status)]
    return {h.lower() for h in response.get("headers", {})}


CONTRACT_HEADERS = {"etag", "location", "ratelimit", "ratelimit-policy", "retry-after",
                    "x-request-id"}


def assert_headers_true(doc: dict[str, Any], method: str, path: str,
                        resp: httpx.Response, *, exactly: bool = True) -> None:
    """The contract headers this answer carries are the ones declared for it."""
    sent = CONTRACT_HEADERS & {h.lower() for h in resp.headers}
    declared = _declared(doc, method, path, resp.status_code)
    assert sent <= declared, f"{method} {path} {resp.status_code}: undeclared {sent - declared}"
    if exactly:
        assert declared <= sent, f"{method} {path} {resp.status_code}: not sent " \
                                 f"{declared - sent}"


async def test_response_headers_are_declared_as_really_sent(
    client: httpx.AsyncClient, auth: TokenFactory, doc: dict[str, Any]
) -> None:
    cw = auth()
    created = await client.post("/v1/profiles", json=profile_payload(), headers=cw)
    assert created.status_code == 201
    assert_headers_true(doc, "post", "/v1/profiles", created)
    pid = created.json()["id"]
    read = await client.get(f"/v1/profiles/{pid}", headers=cw)
    assert_headers_true(doc, "get", "/v1/profiles/{profile_id}", read)
    changed = await client.patch(f"/v1/profiles/{pid}", json={"phone": "+51987654321"},
                                 headers={**cw, "If-Match": read.headers["etag"]})
    assert changed.status_code == 200, changed.text
    assert_headers_true(doc, "patch", "/v1/profiles/{profile_id}", changed)
    stale = await client.patch(f"/v1/profiles/{pid}", json={"phone": "+51987654322"},
                               headers={**cw, "If-Match": read.headers["etag"]})
    assert stale.status_code == 412
    assert_headers_true(doc, "patch", "/v1/profiles/{profile_id}", stale)
    listed = await client.get("/v1/profiles", headers=cw)
    assert_headers_true(doc, "get", "/v1/profiles", listed)
    anonymous = await client.get("/v1/profiles")
    assert anonymous.status_code == 401
    assert_headers_true(doc, "get", "/v1/profiles", anonymous, exactly=False)
    org = await make_org(client, auth, "ong-cabeceras")
    assert org["id"] == "ong-cabeceras"
    made = await client.post("/v1/clients", headers=admin(auth), json={
        "name": "Integración", "organisation_id": "ong-cabeceras", "role": "ngo_partner"})
    assert_headers_true(doc, "post", "/v1/clients", made)
    keys = await client.get("/.well-known/jwks.json")
    assert_headers_true(doc, "get", "/.well-known/jwks.json", keys)
    verified = await client.post("/v1/credentials/verify", json={"credential": "x.y.z"})
    assert_headers_true(doc, "post", "/v1/credentials/verify", verified)


async def test_a_rate_limited_answer_declares_retry_after(
    client: httpx.AsyncClient, doc: dict[str, Any]
) -> None:
    for _ in range(200):
        resp = await client.post("/oauth/token", data={"grant_type": "client_credentials",
                                                       "client_id": "x", "client_secret": "y"})
        if resp.status_code == 429:
            break
    assert resp.status_code == 429
    assert "retry-after" in resp.headers
    assert "retry-after" in _declared(doc, "post", "/oauth/token", 429)
    assert_headers_true(doc, "post", "/oauth/token", resp)
