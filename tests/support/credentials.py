"""Helpers for the credentials tests: people, credentials and moves, all through the gateway."""

from __future__ import annotations

from typing import Any

import httpx

from shared.identity import ASSERTION_HEADER, AssertionSigner, Identity, Role
from shared.settings import Settings
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

SUNEDU = {"body": "SUNEDU", "resolution_number": "012345-2025-SUNEDU/DIGRAT",
          "resolution_date": "2025-05-14"}


def degree_payload(profile_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "profile_id": profile_id, "kind": "academic_degree", "title": "Médico Cirujano",
        "field_isced": "0912", "occupation_isco": "2211",
        "issuer": {"name": "Universidad Central de Venezuela", "country": "VE",
                   "identifier": "UCV"},
        "issued_on": "2015-07-20",
        "evidence": [{"document_id": "doc-7f3a", "type": "diploma"}],
    }
    body.update(overrides)
    return body


class Flow:
    """A caseworker of ``ong-lima`` working through the public API."""

    def __init__(self, client: httpx.AsyncClient, auth: TokenFactory) -> None:
        self.client = client
        self.auth = auth

    def h(self, **extra: str) -> dict[str, str]:
        return self.auth(**extra)

    async def profile(self, **overrides: Any) -> str:
        resp = await self.client.post("/v1/profiles", json=profile_payload(**overrides),
                                      headers=self.h())
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    async def credential(self, profile_id: str | None = None, **body: Any) -> httpx.Response:
        pid = profile_id or await self.profile()
        resp = await self.client.post("/v1/credentials", json=degree_payload(pid, **body),
                                      headers=self.h())
        assert resp.status_code == 201, resp.text
        return resp

    async def move(self, credential_id: str, etag: str, action: str, **body: Any
                   ) -> httpx.Response:
        return await self.client.post(
            f"/v1/credentials/{credential_id}/transitions", json={"action": action, **body},
            headers=self.h(**{"If-Match": etag}))

    async def decide(self, credential_id: str, etag: str, action: str, **body: Any
                     ) -> httpx.Response:
        """``action`` as SUNEDU's ministry client: suspending, reinstating or revoking a
        recognition is the recognising authority's alone (issue 16, item 9)."""
        return await self.client.post(
            f"/v1/credentials/{credential_id}/transitions", json={"action": action, **body},
            headers=self.auth("ministry_system", org="sunedu", **{"If-Match": etag}))

    async def walk(self, credential_id: str, etag: str, *steps: tuple[str, dict[str, Any]]
                   ) -> str:
        for action, body in steps:
            resp = await self.move(credential_id, etag, action, **body)
            assert resp.status_code == 200, resp.text
            etag = resp.headers["etag"]
        return etag

    async def recognised_degree(self, profile_id: str | None = None) -> tuple[str, str, str]:
        """(profile id, credential id, etag) of a degree recognised by SUNEDU."""
        pid = profile_id or await self.profile()
        created = await self.credential(pid)
        cid = created.json()["id"]
        etag = await self.walk(cid, created.headers["etag"],
                               ("see_document", {}), ("apostille", {}),
                               ("recognise", {"reason": "Resolución presentada",
                                              "recognition": SUNEDU}))
        return pid, cid, etag

    async def consent(self, profile_id: str, status: str = "granted") -> httpx.Response:
        return await self.client.post(
            f"/v1/profiles/{profile_id}/consents", headers=self.h(),
            json={"purpose": "credential_sharing", "status": status, "evidence": "written",
                  "evidence_reference": "FORM-2026-0042"})

    async def export(self, credential_id: str, **headers: str) -> httpx.Response:
        return await self.client.get(f"/v1/credentials/{credential_id}/vc",
                                     headers=self.h(**headers))

    async def verify(self, token: str) -> dict[str, Any]:
        resp = await self.client.post("/v1/credentials/verify", json={"credential": token})
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


def assertion(role: Role = Role.SYSTEM, org: str | None = None, subject: str = "relay"
              ) -> dict[str, str]:
    signer = AssertionSigner(Settings().internal_secret)
    identity = Identity(subject=subject, role=role, organisation_id=org)
    return {ASSERTION_HEADER: signer.sign(identity).decode()}

