"""Credentials issued by a peer deployment (RUTA_PEER_DEPLOYMENTS, issue 21): verified with
the peer's credential issuer keys and its status lists, fetched from the peer itself.

Only a peer listed in the settings is asked, only at the URLs its entry implies (its issuer
URL plus our own fixed paths: a credential cannot point us anywhere else), and a status list
that cannot be fetched or checked is ``status_unavailable``: never silently valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from services.credentials import vc
from services.credentials.status_list import Purpose, decode, is_set
from shared.jwks import RemoteJwks
from shared.peer_deployments import PeerDeployment, parse_peers
from shared.settings import Settings

STATUS_UNAVAILABLE = "status_unavailable"


@dataclass(frozen=True)
class ForeignVerdict:
    status: str  # valid | invalid | revoked | suspended | status_unavailable
    reason: vc.Reason | None


class PeerIssuers:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self._peers = list(parse_peers(settings.peer_deployments).values())
        self._jwks = {p.id: RemoteJwks(vc.jwks_url(p.issuer), p.id) for p in self._peers}
        self._http = http or httpx.AsyncClient(timeout=5.0, follow_redirects=False)

    def issuer_of(self, claims: dict[str, object]) -> PeerDeployment | None:
        issuer = claims.get("issuer")
        ref = issuer.get("id") if isinstance(issuer, dict) else issuer
        for p in self._peers:
            if ref == vc.issuer_id(p.issuer):
                return p
        return None

    async def verify(self, peer: PeerDeployment, parsed: vc.Parsed, now: datetime
                     ) -> ForeignVerdict:
        public = await self._jwks[peer.id].key(parsed.kid, self._http)
        if public is None:
            raise vc.Invalid(vc.Reason.UNKNOWN_KEY)
        vc.verify_signature(parsed, public)
        vc.check_data_model(parsed.claims)
        vc.check_validity_period(parsed.claims, now)
        flags: set[Purpose] = set()
        for ref in vc.status_refs(parsed.claims):
            bits = await self._status_bits(peer, ref.list_id, ref.purpose, now)
            if bits is None:
                return ForeignVerdict(STATUS_UNAVAILABLE, vc.Reason.NO_STATUS)
            if ref.position >= len(bits) * 8:
                return ForeignVerdict(STATUS_UNAVAILABLE, vc.Reason.NO_STATUS)
            if is_set(bits, ref.position):
                flags.add(ref.purpose)
        if Purpose.REVOCATION in flags:
            return ForeignVerdict("revoked", vc.Reason.REVOKED)
        if Purpose.SUSPENSION in flags:
            return ForeignVerdict("suspended", vc.Reason.SUSPENDED)
        return ForeignVerdict("valid", None)

    async def _status_bits(self, peer: PeerDeployment, list_id: str, purpose: Purpose,
                           now: datetime) -> bytes | None:
        """The peer's status list, its signature checked with the peer's issuer keys; None
        when it cannot be fetched or does not check out."""
        url = vc.status_list_url(peer.issuer, list_id, purpose)
        try:
            resp = await self._http.get(url, headers={"accept": vc.MEDIA_TYPE})
            if resp.status_code != 200:
                return None
            parsed = vc.parse(resp.text)
            public = await self._jwks[peer.id].key(parsed.kid, self._http)
            if public is None:
                return None
            vc.verify_signature(parsed, public)
            subject = parsed.claims.get("credentialSubject")
            if not isinstance(subject, dict) or subject.get("statusPurpose") != purpose.value:
                return None
            return decode(str(subject.get("encodedList")))
        except (httpx.HTTPError, vc.Invalid, ValueError, TypeError):
            return None

    async def close(self) -> None:
        await self._http.aclose()
