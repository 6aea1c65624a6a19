"""One journey through a deployed gateway that crosses every service and the worker: the
bootstrap admin's organisations and clients, a caseworker signing in through an identity
provider, profile, consent, recommendations, referral and the provider's acceptance, a
credential exported as a verifiable credential and verified publicly, a complete ARCO
export, and the events in the feed (relayed by the worker)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx

from tests.gateway.test_oidc import IdP
from tests.support.credentials import SUNEDU, degree_payload
from tests.support.payloads import profile_payload
from tests.support.referrals import documents


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def client_token(c: httpx.AsyncClient, client_id: str, secret: str) -> str:
    resp = await c.post("/oauth/token", data={"grant_type": "client_credentials",
                                               "client_id": client_id,
                                               "client_secret": secret})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


async def machine_client(c: httpx.AsyncClient, admin: str, **body: Any) -> str:
    made = await c.post("/v1/clients", json=body, headers=bearer(admin))
    assert made.status_code == 201, made.text
    return await client_token(c, made.json()["client_id"], made.json()["client_secret"])


async def organisations_and_clients(c: httpx.AsyncClient, admin: str) -> tuple[str, str]:
    """The bootstrap admin registers the NGO and the provider, and a machine client each."""
    for org in ({"id": "ong-lima", "name": "ONG Lima", "kind": "ngo", "country": "PE",
                 "regions": ["PE-LMA"]},
                {"id": "mtpe-empleo", "name": "Centro de Empleo", "kind": "provider",
                 "country": "PE", "regions": ["PE-LMA"]}):
        made = await c.post("/v1/organisations", json=org, headers=bearer(admin))
        assert made.status_code == 201, made.text
    partner = await machine_client(c, admin, name="Sistema ONG Lima", role="ngo_partner",
                                   organisation_id="ong-lima")
    provider = await machine_client(c, admin, name="Centro de Empleo", role="provider",
                                    organisation_id="mtpe-empleo")
    return partner, provider


def _payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def referral_accepted(c: httpx.AsyncClient, cw: dict[str, str], provider: str,
                            pid: str) -> str:
    recs = await c.get(f"/v1/profiles/{pid}/recommendations", headers=cw)
    assert recs.status_code == 200, recs.text
    assert recs.json()["items"], recs.text
    referral = await c.post("/v1/referrals", headers=cw, json={
        "profile_id": pid, "programme_id": "pe-empleo", "provider_id": "mtpe-empleo"})
    assert referral.status_code == 201, referral.text
    rid = referral.json()["id"]
    seen = await c.get(f"/v1/referrals/{rid}", headers=bearer(provider))
    assert seen.status_code == 200, seen.text
    accepted = await c.post(f"/v1/referrals/{rid}/transitions", json={"action": "accept"},
                            headers=bearer(provider, **{"If-Match": seen.headers["etag"]}))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    return str(rid)


async def credential_verified(c: httpx.AsyncClient, cw: dict[str, str], pid: str,
                              public_base_url: str) -> str:
    made = await c.post("/v1/credentials", json=degree_payload(pid), headers=cw)
    assert made.status_code == 201, made.text
    cid, etag = made.json()["id"], made.headers["etag"]
    for action, body in (("see_document", {}), ("apostille", {}),
                         ("recognise", {"reason": "Resolución presentada",
                                        "recognition": SUNEDU})):
        moved = await c.post(f"/v1/credentials/{cid}/transitions",
                             json={"action": action, **body}, headers={**cw, "If-Match": etag})
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]
    consent = await c.post(f"/v1/profiles/{pid}/consents", headers=cw, json={
        "purpose": "credential_sharing", "status": "granted", "evidence": "written",
        "evidence_reference": "FORM-2026-0042"})
    assert consent.status_code == 201, consent.text
    vc = await c.get(f"/v1/credentials/{cid}/vc", headers=cw)
    assert vc.status_code == 200, vc.text
    token = vc.text.strip()
    claims = _payload(token)
    issuer = claims.get("iss") or claims.get("issuer") or claims["vc"]["issuer"]
    issuer_id = issuer["id"] if isinstance(issuer, dict) else issuer
    assert str(issuer_id).startswith(public_base_url.rstrip("/") + "/"), issuer_id
    assert public_base_url.rstrip("/") in json.dumps(claims.get("credentialStatus")
                                                     or claims.get("vc", {}))
    verified = await c.post("/v1/credentials/verify", json={"credential": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "valid", verified.text
    return str(cid)


async def export_complete(c: httpx.AsyncClient, cw: dict[str, str], pid: str, rid: str,
                          cid: str) -> None:
    export = await c.get(f"/v1/profiles/{pid}/export", headers=cw)
    assert export.status_code == 200, export.text
    body = export.json()
    for section, item in (("credentials", cid), ("referrals", rid)):
        assert body[section]["status"] == "ok", body[section]
        assert item in {i["id"] for i in body[section]["items"]}, section


async def events_in_feed(c: httpx.AsyncClient, partner: str, pid: str, rid: str, cid: str,
                         timeout: float = 30) -> None:
    """The worker relayed each service's events: the person's profile, referral and
    credential all appear in the partner organisation's feed."""
    wanted = {("profile.created", pid), ("referral.created", rid), ("credential.created", cid)}
    deadline = time.monotonic() + timeout
    while True:
        feed = await c.get("/v1/events", params={"types": ",".join(t for t, _ in wanted),
                                                  "limit": 100}, headers=bearer(partner))
        assert feed.status_code == 200, feed.text
        seen = {(e["type"], e["subject_id"]) for e in feed.json()["items"]}
        if wanted <= seen:
            return
        assert time.monotonic() < deadline, f"not relayed by the worker: {wanted - seen}"
        await asyncio.sleep(0.3)


async def journey(base_url: str, *, public_base_url: str, admin_id: str, admin_secret: str,
                  idp: IdP) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as c:
        admin = await client_token(c, admin_id, admin_secret)
        partner, provider = await organisations_and_clients(c, admin)
        cw = bearer(idp.token(**{"https://ruta/permissions": ["sensitive:read"]}))
        me = await c.get("/v1/me", headers=cw)
        assert me.status_code == 200, me.text
        assert me.json()["kind"] == "user" and me.json()["organisation_id"] == "ong-lima"
        person = profile_payload(documents=documents(), interest_employment=True,
                                 education_level=7, occupation_training="2211")
        made = await c.post("/v1/profiles", json=person, headers=cw)
        assert made.status_code == 201, made.text
        pid = made.json()["id"]
        consent = await c.post(f"/v1/profiles/{pid}/consents", headers=cw, json={
            "purpose": "referral", "status": "granted", "evidence": "written",
            "recipient_organisation_id": "mtpe-empleo", "evidence_reference": "FORM-1"})
        assert consent.status_code == 201, consent.text
        rid = await referral_accepted(c, cw, provider, pid)
        cid = await credential_verified(c, cw, pid, public_base_url)
        await export_complete(c, cw, pid, rid, cid)
        await events_in_feed(c, partner, pid, rid, cid)
