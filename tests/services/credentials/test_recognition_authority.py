"""Issue 16, item 9: only the recognising authority (the organisation of the catalogue provider
of the recognition programme — ``sunedu`` for a SUNEDU recognition — through its provider or
ministry clients or its signed callbacks) and admins may suspend or revoke a recognition.

Before: an NGO caseworker revoked a degree that SUNEDU recognised (200), and SUNEDU itself
could not (403 at the gateway). Other transitions keep their rules."""

from __future__ import annotations

import httpx
import pytest

from services.credentials.access import (
    is_recognising_authority,
    is_recognition,
    recognition_decision,
    require_recognition_authority,
)
from services.credentials.errors import RecognitionAuthorityRequired
from services.credentials.lifecycle import Action
from services.credentials.models import Credential
from shared.identity import Identity, Role
from tests.support.credentials import SUNEDU, Flow, assertion
from tests.support.tokens import TokenFactory

REVOKE = {"action": "revoke", "reason": "SUNEDU anuló la resolución"}
SUSPEND = {"action": "suspend", "reason": "Resolución en revisión"}
REINSTATE = {"action": "reinstate", "reason": "Revisión concluida"}


async def _post(client: httpx.AsyncClient, cid: str, etag: str, body: dict[str, str],
                headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"/v1/credentials/{cid}/transitions", json=body,
                             headers={**headers, "If-Match": etag})


def _is_authority_refusal(resp: httpx.Response) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"].endswith("/recognition-authority-required")


async def test_the_recognition_records_the_recognising_organisation(flow: Flow) -> None:
    _, cid, _ = await flow.recognised_degree()
    read = await flow.client.get(f"/v1/credentials/{cid}", headers=flow.h())
    assert read.json()["recognition"]["organisation_id"] == "sunedu"


@pytest.mark.parametrize("role", ["caseworker", "coordinator", "ngo_partner"])
@pytest.mark.parametrize("body", [REVOKE, SUSPEND], ids=["revoke", "suspend"])
async def test_the_caseload_that_sees_the_degree_may_not_revoke_or_suspend_its_recognition(
    flow: Flow, auth: TokenFactory, role: str, body: dict[str, str]
) -> None:
    _, cid, etag = await flow.recognised_degree()
    resp = await _post(flow.client, cid, etag, body, auth(role, org="ong-lima"))
    _is_authority_refusal(resp)
    read = await flow.client.get(f"/v1/credentials/{cid}", headers=flow.h())
    assert read.json()["status"] == "recognised"


@pytest.mark.parametrize("role", ["provider", "ministry_system"])
async def test_the_recognising_organisation_suspends_then_revokes(
    flow: Flow, auth: TokenFactory, role: str
) -> None:
    _, cid, etag = await flow.recognised_degree()
    sunedu = auth(role, org="sunedu")
    suspended = await _post(flow.client, cid, etag, SUSPEND, sunedu)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    # the caseworker may not revoke a suspended recognition either
    _is_authority_refusal(await _post(flow.client, cid, suspended.headers["etag"], REVOKE,
                                      flow.h()))
    revoked = await _post(flow.client, cid, suspended.headers["etag"], REVOKE, sunedu)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    history = (await flow.client.get(f"/v1/credentials/{cid}/history",
                                     headers=flow.h())).json()["items"]
    assert (history[-1]["action"], history[-1]["actor_organisation_id"]) == ("revoke", "sunedu")


async def test_only_the_recognising_organisation_lifts_its_suspension(
    flow: Flow, auth: TokenFactory
) -> None:
    """A suspension SUNEDU made is SUNEDU's to lift: the caseload reinstating it would undo
    the authority's decision (before: 200 for the caseworker)."""
    _, cid, etag = await flow.recognised_degree()
    sunedu = auth("provider", org="sunedu")
    suspended = await _post(flow.client, cid, etag, SUSPEND, sunedu)
    assert suspended.status_code == 200, suspended.text
    _is_authority_refusal(await _post(flow.client, cid, suspended.headers["etag"], REINSTATE,
                                      flow.h()))
    lifted = await _post(flow.client, cid, suspended.headers["etag"], REINSTATE, sunedu)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["status"] == "recognised"


@pytest.mark.parametrize(("role", "org"), [("provider", "aspefam-enam"),
                                           ("ministry_system", "senescyt"),
                                           ("provider", "ong-lima")])
async def test_another_organisation_may_not_revoke_the_recognition(
    flow: Flow, auth: TokenFactory, role: str, org: str
) -> None:
    _, cid, etag = await flow.recognised_degree()
    _is_authority_refusal(await _post(flow.client, cid, etag, REVOKE, auth(role, org=org)))


async def test_an_admin_may_revoke_a_recognition(flow: Flow, auth: TokenFactory) -> None:
    _, cid, etag = await flow.recognised_degree()
    resp = await _post(flow.client, cid, etag, REVOKE, auth("admin", org=None, regions=[]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "revoked"


async def test_outside_a_recognition_the_authority_has_no_say_and_the_caseload_keeps_its_own(
    flow: Flow, auth: TokenFactory
) -> None:
    created = await flow.credential()
    cid = created.json()["id"]
    etag = await flow.walk(cid, created.headers["etag"], ("verify_with_issuer", {}))
    refused = await _post(flow.client, cid, etag, SUSPEND, auth("provider", org="sunedu"))
    assert refused.status_code == 403, refused.text
    admin = await _post(flow.client, cid, etag, SUSPEND, auth("admin", org=None, regions=[]))
    assert admin.status_code == 403, admin.text
    suspended = await _post(flow.client, cid, etag, SUSPEND, flow.h())
    assert suspended.status_code == 200, suspended.text


async def test_signed_callbacks_of_the_recognising_organisation_only(
    flow: Flow, internal: httpx.AsyncClient
) -> None:
    _, cid, _ = await flow.recognised_degree()
    url = f"/internal/credentials/{cid}/transitions"
    other = assertion(Role.MINISTRY_SYSTEM, org="mtpe-empleo", subject="inbound:mtpe")
    refused = await internal.post(url, json=SUSPEND, headers={**other, "If-Match": "*"})
    _is_authority_refusal(refused)
    sunedu = assertion(Role.MINISTRY_SYSTEM, org="sunedu", subject="inbound:sunedu")
    applied = await internal.post(url, json=SUSPEND, headers={**sunedu, "If-Match": "*"})
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "suspended"


async def test_a_recognition_by_an_authority_the_catalogue_does_not_know_is_refused(
    flow: Flow
) -> None:
    created = await flow.credential()
    cid = created.json()["id"]
    etag = await flow.walk(cid, created.headers["etag"], ("see_document", {}))
    resp = await flow.move(cid, etag, "recognise", reason="Resolución presentada",
                           recognition={**SUNEDU, "body": "ACME"})
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == ["recognition.body"]


# --- the rule itself, over role × organisation × state (no database) ----------------------

@pytest.mark.parametrize(("status", "suspended_from", "recognition"), [
    ("recognised", None, True), ("suspended", "recognised", True),
    ("suspended", "verified_with_issuer", False), ("verified_with_issuer", None, False),
    ("apostilled", None, False), ("revoked", None, False)])
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("org", ["sunedu", "ong-lima", None])
def test_who_decides_on_a_recognition(status: str, suspended_from: str | None,
                                      recognition: bool, role: Role, org: str | None) -> None:
    credential = Credential(status=status, suspended_from=suspended_from,
                            recognising_organisation_id="sunedu")
    identity = Identity(subject="x", role=role, organisation_id=org)
    authority = role in (Role.ADMIN, Role.SYSTEM) or (
        role in (Role.PROVIDER, Role.MINISTRY_SYSTEM) and org == "sunedu")
    assert is_recognition(credential) is recognition
    for action in Action:
        decided = action in (Action.SUSPEND, Action.REVOKE, Action.REINSTATE) and recognition
        assert recognition_decision(credential, action) is decided
        if decided and not authority:
            with pytest.raises(RecognitionAuthorityRequired):
                require_recognition_authority(identity, credential, action)
        else:
            require_recognition_authority(identity, credential, action)


def test_a_recognition_without_a_known_organisation_is_for_admins_only() -> None:
    credential = Credential(status="recognised", recognising_organisation_id=None)
    for role in (Role.PROVIDER, Role.MINISTRY_SYSTEM):
        assert not is_recognising_authority(Identity("x", role, None), credential)
    assert is_recognising_authority(Identity("x", Role.ADMIN, None), credential)
