"""Issue 19's acceptance across both services, through the gateway and the real relay: a
person whose CPP expires in 20 days is on the worklist and the route puts the renewal
(Migraciones) first; a person whose CPP lapsed while her job referral was open has that
referral flagged at risk (``referral.at_risk`` to the provider); a renewal referral to the
real catalogue programme stops her document reminders; a new CPP clears the flag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from services.registry.watch import watch_documents
from shared.db import Database
from shared.work_authorisation import today_in
from tests.support.contract import contract_client
from tests.support.tokens import TokenFactory
from tests.test_document_expiry_e2e import WATCH, person_with_cpp, quiet_app, register, worklist

__all__ = ["quiet_app"]  # the fixture


async def _referral(c: httpx.AsyncClient, headers: dict[str, str], rid: str
                    ) -> dict[str, Any]:
    resp = await c.get(f"/v1/referrals/{rid}", headers=headers)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _cpp(number: str, days_left: int) -> dict[str, Any]:
    return {"type": "pe_cpp", "number": number, "verification": "seen",
            "authorises_work": True,
            "expiry_date": (today_in("PE") + timedelta(days=days_left)).isoformat()}


async def _set_documents(c: httpx.AsyncClient, headers: dict[str, str], pid: str,
                         documents: list[dict[str, Any]]) -> None:
    current = await c.get(f"/v1/profiles/{pid}", headers=headers)
    patched = await c.patch(f"/v1/profiles/{pid}", json={"documents": documents},
                            headers={**headers, "If-Match": current.headers["etag"]})
    assert patched.status_code == 200, patched.text


async def test_a_cpp_lapsing_puts_renewal_first_flags_the_job_referral_and_a_new_cpp_clears_it(
    quiet_app: FastAPI, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    ana = auth("caseworker", org="ong-lima", regions=["PE-LMA"], subject="cw-ana")
    provider = auth("provider", org="mtpe-empleo", subject="staff-mtpe")
    hub = quiet_app.state.hub
    async with contract_client(quiet_app) as c:
        person = await register(c, ana, person_with_cpp(
            20, "CPP7700190", interest_employment=True, consents=[
                {"purpose": "referral", "status": "granted",
                 "recipient_organisation_id": "mtpe-empleo", "evidence": "written",
                 "evidence_reference": "FORM-19"},
                {"purpose": "referral", "status": "granted",
                 "recipient_organisation_id": "migraciones", "evidence": "written",
                 "evidence_reference": "FORM-19b"}]))
        pid = person["id"]

        # 20 days left: on the worklist once the watch has run, renewal first in the route
        await watch_documents(db=dbs["registry"], config=WATCH)
        await hub.run_once()
        assert [i["kind"] for i in await worklist(c, ana)] == ["document_expiring"]
        recs = await c.get(f"/v1/profiles/{pid}/recommendations", headers=ana)
        assert recs.status_code == 200, recs.text
        items = recs.json()["items"]
        assert items[0]["programme"]["id"] == "pe-migraciones-renovacion"
        empleo = next(r for r in items if r["programme"]["id"] == "pe-empleo")
        assert empleo["blocked_by"]["programme_id"] == "pe-migraciones-renovacion"

        job = await c.post("/v1/referrals", headers=ana, json={
            "profile_id": pid, "programme_id": "pe-empleo", "provider_id": "mtpe-empleo"})
        assert job.status_code == 201, job.text
        rid = job.json()["id"]
        await hub.run_once()
        assert (await _referral(c, provider, rid))["at_risk"] is False

        # lapsed: another person of the same caseload, whose CPP lapsed yesterday while her
        # job referral was open; the watch announces document.expired and the referrals
        # service flags the referral (both judge on the real day in Lima)
        lapsed = await register(c, ana, person_with_cpp(
            -1, "CPP7700192", interest_employment=True, consents=[
                {"purpose": "referral", "status": "granted",
                 "recipient_organisation_id": "mtpe-empleo", "evidence": "written",
                 "evidence_reference": "FORM-19c"},
                {"purpose": "referral", "status": "granted",
                 "recipient_organisation_id": "migraciones", "evidence": "written",
                 "evidence_reference": "FORM-19d"}]))
        pid = lapsed["id"]
        job = await c.post("/v1/referrals", headers=ana, json={
            "profile_id": pid, "programme_id": "pe-empleo", "provider_id": "mtpe-empleo"})
        assert job.status_code == 201, job.text
        rid = job.json()["id"]
        await hub.run_once()
        assert (await watch_documents(db=dbs["registry"], config=WATCH)).expired == 1
        for _ in range(3):
            await hub.run_once()
        flagged = await _referral(c, provider, rid)
        assert flagged["at_risk"] is True, flagged
        assert sorted(i["kind"] for i in await worklist(c, ana)) == [
            "document_expired", "document_expiring"]

        # a renewal referral to Migraciones (the real catalogue programme) stops the reminders
        renewal = await c.post("/v1/referrals", headers=ana, json={
            "profile_id": pid, "programme_id": "pe-migraciones-renovacion",
            "provider_id": "migraciones"})
        assert renewal.status_code == 201, renewal.text
        await hub.run_once()
        assert [i["kind"] for i in await worklist(c, ana)] == ["document_expiring"]

        # a new CPP recorded: document.recorded clears the flag
        await _set_documents(c, ana, pid, [_cpp("CPP7700192", -1), _cpp("CPP7700193", 365)])
        for _ in range(3):
            await hub.run_once()
        assert (await _referral(c, provider, rid))["at_risk"] is False
