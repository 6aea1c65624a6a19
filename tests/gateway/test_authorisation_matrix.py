"""Who may do what, written from PRODUCT.md's "who sees what" — never from the policy code.

A profile and a credential belong to organisation A (ong-lima) in region PE-LMA. Each role
calls each route as a member of A or of another organisation B, with A's region or another
region. 200/201: allowed and visible; 403: the role may not do this at all; 404: the role
may, but this object is outside its scope (existence is not revealed).
"""

from __future__ import annotations

import itertools

import httpx
import pytest

from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

ROLES = ["caseworker", "coordinator", "ngo_partner", "provider", "ministry_system", "admin"]
CASELOAD = {"caseworker", "coordinator", "ngo_partner"}


def expected(role: str, route: str, own_org: bool, own_region: bool) -> int:
    in_scope = own_org and own_region
    if route == "read profile":
        if role in CASELOAD:
            return 200 if in_scope else 404
        # a provider sees profile data only through referrals shared with it by consent
        return 404 if role == "provider" else 403
    if route == "update profile":
        if role in CASELOAD:
            return 200 if in_scope else 404
        return 403
    if route == "register profile":  # in the caller's region, or outside it
        if role in CASELOAD:
            return 201 if own_region else 403
        return 403
    if route == "list programmes":
        return 200
    if route == "read credential":
        if role in CASELOAD:
            return 200 if in_scope else 404
        return 404 if role in ("provider", "ministry_system") else 403
    if route == "list organisations":
        return 200 if role == "admin" else 403
    if route == "revoke recognition":  # recognised by SUNEDU: neither A nor B is SUNEDU
        if role in CASELOAD:
            return 403 if in_scope else 404
        return 200 if role == "admin" else 403
    raise AssertionError(route)


ROUTES = ["read profile", "update profile", "register profile", "list programmes",
          "read credential", "list organisations", "revoke recognition"]
CASES = [(role, route, own_org, own_region)
         for role, route in itertools.product(ROLES, ROUTES)
         for own_org, own_region in itertools.product((True, False), (True, False))
         if role != "admin" or (own_org and own_region)]  # admins belong to no organisation


@pytest.mark.parametrize(("role", "route", "own_org", "own_region"), CASES,
                         ids=[f"{r}-{rt.replace(' ', '_')}-{'A' if o else 'B'}-"
                              f"{'LMA' if g else 'CUS'}" for r, rt, o, g in CASES])
async def test_matrix(role: str, route: str, own_org: bool, own_region: bool,
                      client: httpx.AsyncClient, auth: TokenFactory) -> None:
    owner = auth("caseworker", org="ong-lima", regions=["PE-LMA"])
    profile = await client.post("/v1/profiles", json=profile_payload(), headers=owner)
    assert profile.status_code == 201, profile.text
    pid, etag = profile.json()["id"], profile.headers["etag"]
    credential = await client.post("/v1/credentials", headers=owner, json={
        "profile_id": pid, "kind": "academic_degree", "title": "Ingeniero Civil"})
    assert credential.status_code == 201, credential.text
    cid, c_etag = credential.json()["id"], credential.headers["etag"]
    if route == "revoke recognition":
        for move in ({"action": "see_document"},
                     {"action": "recognise", "reason": "Resolución presentada",
                      "recognition": {"body": "SUNEDU", "resolution_number": "0789-2026",
                                      "resolution_date": "2026-01-15"}}):
            moved = await client.post(f"/v1/credentials/{cid}/transitions", json=move,
                                      headers={**owner, "If-Match": c_etag})
            assert moved.status_code == 200, moved.text
            c_etag = moved.headers["etag"]

    org = None if role == "admin" else ("ong-lima" if own_org else "ong-otra")
    regions = [] if role == "admin" else ["PE-LMA" if own_region else "PE-CUS"]
    h = auth(role, org=org, regions=regions)
    if route == "read profile":
        resp = await client.get(f"/v1/profiles/{pid}", headers=h)
    elif route == "update profile":
        resp = await client.patch(f"/v1/profiles/{pid}", json={"second_surname": "Díaz"},
                                  headers={**h, "If-Match": etag})
    elif route == "register profile":
        resp = await client.post("/v1/profiles", json=profile_payload(), headers=h)
    elif route == "list programmes":
        resp = await client.get("/v1/programs", headers=h)
    elif route == "read credential":
        resp = await client.get(f"/v1/credentials/{cid}", headers=h)
    elif route == "revoke recognition":
        resp = await client.post(f"/v1/credentials/{cid}/transitions",
                                 json={"action": "revoke", "reason": "Resolución anulada"},
                                 headers={**h, "If-Match": c_etag})
    else:
        resp = await client.get("/v1/organisations", headers=h)
    assert resp.status_code == expected(role, route, own_org, own_region), resp.text
    if resp.status_code >= 400:
        assert resp.headers["content-type"] == "application/problem+json"
        assert pid not in resp.text
