"""What the credentials service asks the registry, through its API and as the caller.

The registry decides who may see a person (organisation, region, consent-based sharing); this
service never second-guesses it. A registry that is down is a 503, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.errors import ServiceUnavailable
from shared.identity import Identity
from shared.peers import NOT_VISIBLE, Peers

SHARING_PURPOSE = "credential_sharing"


@dataclass(frozen=True)
class ProfileRef:
    id: str
    organisation_id: str
    region: str | None
    full_name: str | None
    birth_date: date | None = None


@dataclass(frozen=True)
class ConsentAnswer:
    granted: bool
    consent_id: str | None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class Registry:
    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    async def _get(self, identity: Identity, path: str, params: dict[str, Any] | None = None
                   ) -> dict[str, Any] | None:
        body = await self.peers.get_json("registry", path, identity=identity, params=params,
                                         absent=NOT_VISIBLE)
        if body is not None and not isinstance(body, dict):
            raise ServiceUnavailable()
        return body

    async def profile(self, identity: Identity, profile_id: str) -> ProfileRef | None:
        """The profile as this caller may see it; None when it may not (or it is gone). A
        merged profile answers as its survivor (whose id the reference carries)."""
        body = await self._get(identity, f"/v1/profiles/{profile_id}")
        if body is None:
            return None
        org, pid = body.get("organisation_id"), body.get("id")
        if not isinstance(org, str) or not isinstance(pid, str):
            raise ServiceUnavailable()
        names = [body.get(k) for k in ("given_names", "first_surname", "second_surname")]
        full_name = " ".join(n for n in names if isinstance(n, str) and n) or None
        region = body.get("region")
        return ProfileRef(id=pid, organisation_id=org,
                          region=region if isinstance(region, str) else None,
                          full_name=full_name, birth_date=_date(body.get("birth_date")))

    async def consent(self, identity: Identity, profile_id: str, purpose: str
                      ) -> ConsentAnswer | None:
        """Has the person consented to ``purpose``? None when the profile is not visible."""
        body = await self._get(identity, f"/v1/profiles/{profile_id}/consent-check",
                               params={"purpose": purpose})
        if body is None:
            return None
        granted = body.get("granted")
        if not isinstance(granted, bool):
            raise ServiceUnavailable()
        consent_id = body.get("consent_id")
        return ConsentAnswer(granted=granted,
                             consent_id=consent_id if isinstance(consent_id, str) else None)


RECOGNITION_ROUTE = "degree_recognition"


class Catalogue:
    """What the credentials service asks the referrals catalogue: which organisation is the
    recognising authority a caseworker names when recording a recognition.

    The authority code of a recognition (``SUNEDU``) is the organisation id of its catalogue
    provider, upper-cased (``sunedu``); it is that authority only while a provider of that
    organisation delivers a programme of route type ``degree_recognition``. Withdrawn
    providers and programmes count: a resolution may predate the withdrawal. Referrals being
    down is a 503, never a guess."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    async def _items(self, identity: Identity, path: str, params: dict[str, Any]
                     ) -> list[dict[str, Any]]:
        body = await self.peers.get_json("referrals", path, identity=identity,
                                         params={**params, "include_inactive": "true",
                                                 "limit": 200})
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ServiceUnavailable()
        return items

    async def recognising_organisation(self, identity: Identity, authority_code: str
                                       ) -> str | None:
        """The organisation id behind ``authority_code``; None when the catalogue has no
        recognition provider of that organisation."""
        organisation_id = authority_code.lower()
        providers = await self._items(identity, "/v1/providers",
                                      {"organisation_id": organisation_id})
        delivered = {p for prov in providers for p in prov.get("programme_ids") or ()
                     if prov.get("organisation_id") == organisation_id}
        if not delivered:
            return None
        programmes = await self._items(identity, "/v1/programs",
                                       {"route_type": RECOGNITION_ROUTE})
        recognition = {p.get("id") for p in programmes}
        return organisation_id if delivered & recognition else None
