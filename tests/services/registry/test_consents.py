"""Consents through the gateway: decisions, withdrawal, the consent check other services use,
opposition (ARCO) and what withdrawal does to shared and sensitive data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from services.registry import usecases as service
from services.registry.models import Consent
from shared.db import Database
from shared.identity import Identity, Role
from tests.support.registry import SENSITIVE, WRITTEN_SENSITIVE_CONSENT, create, events_of, share
from tests.support.tokens import TokenFactory


async def test_grant_refuse_list_and_withdraw(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}/consents"
    granted = await client.post(url, headers=auth(**{"Idempotency-Key": "c-1"}), json={
        "purpose": "referral", "recipient_organisation_id": "mtpe-empleo",
        "programme_id": "pe-empleo", "evidence": "digital_signature",
        "evidence_reference": "SIGN-77", "valid_until": "2099-12-31T00:00:00Z"})
    assert granted.status_code == 201, granted.text
    g = granted.json()
    assert (g["status"], g["recorded_by"], g["recorded_by_organisation_id"]) == (
        "granted", "test-caseworker-ong-lima", "ong-lima")
    assert granted.headers["location"] == f"{url}/{g['id']}"
    replay = await client.post(url, headers=auth(**{"Idempotency-Key": "c-1"}), json={
        "purpose": "referral", "recipient_organisation_id": "mtpe-empleo",
        "programme_id": "pe-empleo", "evidence": "digital_signature",
        "evidence_reference": "SIGN-77", "valid_until": "2099-12-31T00:00:00Z"})
    assert replay.json() == g and replay.headers["idempotent-replayed"] == "true"
    refused = await client.post(url, headers=auth(), json={
        "purpose": "contact", "status": "refused", "evidence": "verbal_witnessed",
        "witnessed_by": "Promotora Ana"})
    assert refused.status_code == 201
    listed = (await client.get(url, headers=auth())).json()["items"]
    assert [(c["purpose"], c["status"]) for c in listed] == [("referral", "granted"),
                                                              ("contact", "refused")]

    assert (await client.post(f"{url}/{refused.json()['id']}/withdraw",
                              headers=auth())).status_code == 409
    stale = await client.post(f"{url}/{g['id']}/withdraw", headers=auth(**{"If-Match":
                                                                          '"v7"'}))
    assert stale.status_code == 412
    withdrawn = await client.post(f"{url}/{g['id']}/withdraw",
                                  headers=auth(**{"If-Match": '"v1"'}))
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["withdrawn_by"] == "test-caseworker-ong-lima"
    assert (await client.post(f"{url}/{g['id']}/withdraw", headers=auth())).status_code == 409
    assert (await client.post(f"{url}/nope/withdraw", headers=auth())).status_code == 404

    events = [e for e in await events_of(dbs["registry"], p["id"]) if e[0].startswith("cons")]
    assert events == [
        ("consent.granted", {"consent_id": g["id"], "purpose": "referral",
                             "recipient_organisation_id": "mtpe-empleo",
                             "programme_id": "pe-empleo"}),
        ("consent.withdrawn", {"consent_id": g["id"], "purpose": "referral",
                               "recipient_organisation_id": "mtpe-empleo",
                               "programme_id": "pe-empleo"})]
    profile = (await client.get(f"/v1/profiles/{p['id']}", headers=auth())).json()
    assert profile["opt_out_contact"] is True


@pytest.mark.invalid_request
async def test_bad_consents_are_422_and_only_the_owner_records(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}/consents"
    for body in (
        {"purpose": "referral", "evidence": "written"},                 # no recipient
        {"purpose": "contact", "evidence": "verbal_witnessed"},         # no witness
        {"purpose": "registration", "evidence": "verbal_witnessed", "witnessed_by": "x",
         "sensitive_data": True},                                        # sensitive: writing
        {"purpose": "contact", "evidence": "written", "status": "withdrawn"},
        {"purpose": "contact", "evidence": "written", "valid_until": "2001-01-01T00:00:00Z"},
        {"purpose": "marketing", "evidence": "written"},
        {"purpose": "contact", "evidence": "written", "recorded_by": "me"},
    ):
        resp = await client.post(url, json=body, headers=auth())
        assert resp.status_code == 422, body
    await share(client, auth, p["id"], "ong-otra")
    assert (await client.post(url, headers=auth(org="ong-otra"), json={
        "purpose": "contact", "evidence": "written"})).status_code == 403
    # the recipient sees only the decisions about itself
    seen = (await client.get(url, headers=auth(org="ong-otra"))).json()["items"]
    assert [c["recipient_organisation_id"] for c in seen] == ["ong-otra"]


@pytest.mark.invalid_request
async def test_consent_check_contract(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}/consent-check"
    params = {"purpose": "referral", "recipient": "mtpe-empleo"}
    no = await client.get(url, params=params, headers=auth())
    assert no.json() == {"profile_id": p["id"], "organisation_id": p["organisation_id"],
                         "region": p["region"], "purpose": "referral",
                         "recipient": "mtpe-empleo", "granted": False, "consent_id": None}
    c = await share(client, auth, p["id"], "mtpe-empleo",
                    valid_until=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    yes = await client.get(url, params=params, headers=auth())
    assert yes.json()["granted"] is True and yes.json()["consent_id"] == c["id"]
    # the recipient itself may ask (the profile is shared with it)
    provider = await client.get(url, params=params,
                                headers=auth("provider", org="mtpe-empleo"))
    assert provider.status_code == 200 and provider.json()["granted"] is True
    assert (await client.get(url, params={"purpose": "referral"}, headers=auth())
            ).status_code == 422
    assert (await client.get(url, params={"purpose": "nonsense"}, headers=auth())
            ).status_code == 422
    assert (await client.get(url, params=params, headers=auth("provider", org="otro"))
            ).status_code == 404
    # credential sharing: a general grant covers any recipient
    await client.post(f"/v1/profiles/{p['id']}/consents", headers=auth(), json={
        "purpose": "credential_sharing", "evidence": "written"})
    cred = await client.get(url, params={"purpose": "credential_sharing"}, headers=auth())
    assert cred.json()["granted"] is True
    cred_to = await client.get(url, params={"purpose": "credential_sharing",
                                            "recipient": "sunedu"}, headers=auth())
    assert cred_to.json()["granted"] is True

    # expiry: a grant past valid_until no longer grants (nor shares)
    async with dbs["registry"].uow() as uow:
        await uow.session.execute(update(Consent).where(Consent.id == c["id"]).values(
            valid_until=datetime.now(UTC) - timedelta(minutes=1)))
        await uow.commit()
    expired = await client.get(url, params=params, headers=auth())
    assert expired.json()["granted"] is False
    listed = (await client.get(f"/v1/profiles/{p['id']}/consents", headers=auth())).json()
    assert {x["status"] for x in listed["items"] if x["purpose"] == "referral"} == {"expired"}
    assert (await client.get(url, params=params, headers=auth("provider", org="mtpe-empleo"))
            ).status_code == 404

    # services acting on their own (event handlers) may ask too
    system = Identity(subject="svc-referrals", role=Role.SYSTEM, organisation_id=None)
    out = await service.check_consent(db=dbs["registry"], identity=system,
                                      profile_id=p["id"], purpose="credential_sharing",
                                      recipient=None, programme=None)
    assert out["granted"] is True


async def test_withdrawing_the_sensitive_consent_erases_sensitive_data(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    permitted = auth(permissions=["sensitive:read"])
    p = await create(client, permitted, consents=[WRITTEN_SENSITIVE_CONSENT],
                     sensitive=SENSITIVE)
    url = f"/v1/profiles/{p['id']}"
    consent = (await client.get(f"{url}/consents", headers=auth())).json()["items"][0]
    assert (await client.post(f"{url}/consents/{consent['id']}/withdraw",
                              headers=auth())).status_code == 200
    after = await client.get(url, headers=permitted)
    assert after.json()["sensitive"] is None
    assert after.headers["etag"] == '"v2"'
    # and without a covering consent it cannot be written again
    again = await client.patch(url, json={"sensitive": SENSITIVE},
                               headers=auth(permissions=["sensitive:read"],
                                            **{"If-Match": '"v2"'}))
    assert again.status_code == 422


async def test_opposition_to_statistics_takes_people_out_of_the_counts(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    org = "ong-stats"
    p1 = await create(client, auth(org=org))
    await create(client, auth(org=org), sex="male", birth_date="2001-01-01")
    coordinator = auth("coordinator", org=org)
    counts = (await client.get("/v1/profiles/statistics", headers=coordinator)).json()
    assert counts["total"] == 2
    opposed = await client.post(f"/v1/profiles/{p1['id']}/consents", headers=auth(org=org),
                                json={"purpose": "statistics", "status": "refused",
                                      "evidence": "written"})
    assert opposed.status_code == 201
    counts = (await client.get("/v1/profiles/statistics", headers=coordinator)).json()
    assert counts["total"] == 1 and counts["by_sex"] == {"male": 1}
    profile = (await client.get(f"/v1/profiles/{p1['id']}", headers=auth(org=org))).json()
    assert profile["opt_out_statistics"] is True
    # changing one's mind: a later grant brings the person back
    await client.post(f"/v1/profiles/{p1['id']}/consents", headers=auth(org=org),
                      json={"purpose": "statistics", "evidence": "written"})
    counts = (await client.get("/v1/profiles/statistics", headers=coordinator)).json()
    assert counts["total"] == 2
