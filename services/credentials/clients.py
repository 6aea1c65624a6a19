"""What the credentials service asks the registry, through its API and as the caller.

The registry decides who may see a person (organisation, region, consent-based sharing); this
service never second-guesses it. A registry that is down is a 503, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from shared.clients import Peers
from shared.errors import ServiceUnavailable, UpstreamTimeout
from shared.identity import Identity

log = structlog.get_logger("ruta.credentials.registry")

SHARING_PURPOSE = "credential_sharing"


@dataclass(frozen=True)
class ProfileRef:
    id: str
    organisation_id: str
    region: str | None
    full_name: str | None


@dataclass(frozen=True)
class ConsentAnswer:
    granted: bool
    consent_id: str | None


class Registry:
    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    async def _get(self, identity: Identity, path: str, params: dict[str, Any] | None = None
                   ) -> dict[str, Any] | None:
        resp = await self.peers.request("registry", "GET", path, identity=identity,
                                        params=params)
        if resp.status_code in (401, 403, 404, 410) or 300 <= resp.status_code < 400:
            return None  # not visible to this caller, erased or merged: the same as absent
        if resp.status_code == 504:
            raise UpstreamTimeout()
        if resp.status_code != 200:
            log.warning("registry_unexpected_status", status=resp.status_code)
            raise ServiceUnavailable()
        try:
            body = resp.json()
        except (ValueError, httpx.DecodingError):
            raise ServiceUnavailable() from None
        if not isinstance(body, dict):
            raise ServiceUnavailable()
        return body

    async def profile(self, identity: Identity, profile_id: str) -> ProfileRef | None:
        """The profile as this caller may see it; None when it may not (or it is gone)."""
        body = await self._get(identity, f"/v1/profiles/{profile_id}")
        if body is None:
            return None
        org = body.get("organisation_id")
        if not isinstance(org, str) or body.get("id") != profile_id:
            raise ServiceUnavailable()
        names = [body.get(k) for k in ("given_names", "first_surname", "second_surname")]
        full_name = " ".join(n for n in names if isinstance(n, str) and n) or None
        region = body.get("region")
        return ProfileRef(id=profile_id, organisation_id=org,
                          region=region if isinstance(region, str) else None,
                          full_name=full_name)

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
