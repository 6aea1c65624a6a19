"""What the referrals service asks its siblings, through their public APIs (never their
tables), as the caller: the registry and the credentials service apply their own
object-level rules, so a person the caller may not see is simply not found here either.

A sibling that is down, times out or answers nonsense is a 503 (or 504), never a guess: a
recommendation or a referral is never made on partial information.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import structlog

from services.referrals.eligibility import CredentialFact, DocumentFact, Facts, age_on
from shared.clients import Peers
from shared.errors import AppError, ServiceUnavailable, UpstreamTimeout
from shared.i18n import Text, current_language
from shared.identity import Identity, Role

log = structlog.get_logger("ruta.referrals.clients")

REFERRAL_PURPOSE = "referral"
MAX_CREDENTIAL_PAGES = 10
SYSTEM = Identity(subject="svc-referrals", role=Role.SYSTEM, organisation_id=None)


class ProfileGone(AppError):
    status = 410
    code = "profile-erased"
    detail_text = Text("Los datos de esta persona fueron cancelados (derecho ARCO).",
                       "This person's data was cancelled (ARCO right).")


@dataclass(frozen=True)
class ConsentAnswer:
    granted: bool
    consent_id: str | None


async def _get(peers: Peers, service: str, path: str, identity: Identity,
               params: dict[str, Any] | None = None) -> httpx.Response:
    # The caller's language goes along: in the embedded shape the sibling runs in this very
    # task, and its middleware would otherwise reset the language of our own answer.
    return await peers.request(service, "GET", path, identity=identity, params=params,
                               headers={"Accept-Language": current_language()})


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise ServiceUnavailable() from None


def _unexpected(service: str, resp: httpx.Response) -> AppError:
    if resp.status_code == 504:
        return UpstreamTimeout()
    log.warning("sibling_unexpected_status", service=service, status=resp.status_code)
    return ServiceUnavailable()


class Registry:
    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    async def profile(self, identity: Identity, profile_id: str, *, gone_as_absent: bool = True
                      ) -> dict[str, Any] | None:
        """The profile as ``identity`` may see it; None when it may not (or it is gone)."""
        resp = await _get(self.peers, "registry", f"/v1/profiles/{profile_id}", identity)
        if resp.status_code == 410 and not gone_as_absent:
            raise ProfileGone()
        if resp.status_code in (401, 403, 404, 410) or 300 <= resp.status_code < 400:
            return None
        if resp.status_code != 200:
            raise _unexpected("registry", resp)
        body = _json(resp)
        if (not isinstance(body, dict) or body.get("id") != profile_id
                or not isinstance(body.get("organisation_id"), str)
                or not isinstance(body.get("region"), str)):
            raise ServiceUnavailable()
        return body

    async def consent(self, identity: Identity, profile_id: str, *, recipient: str,
                      programme: str | None) -> ConsentAnswer | None:
        """May ``recipient`` receive the person's data for a referral (to ``programme``)?
        None when the profile is not visible to ``identity`` (or no longer active)."""
        params = {"purpose": REFERRAL_PURPOSE, "recipient": recipient}
        if programme is not None:
            params["programme"] = programme
        resp = await _get(self.peers, "registry", f"/v1/profiles/{profile_id}/consent-check",
                          identity, params)
        if resp.status_code in (401, 403, 404, 410):
            return None
        if resp.status_code != 200:
            raise _unexpected("registry", resp)
        body = _json(resp)
        granted = body.get("granted") if isinstance(body, dict) else None
        if not isinstance(granted, bool):
            raise ServiceUnavailable()
        consent_id = body.get("consent_id")
        return ConsentAnswer(granted, consent_id if isinstance(consent_id, str) else None)


class Credentials:
    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    async def of_profile(self, identity: Identity, profile_id: str) -> list[dict[str, Any]]:
        """The person's credentials the caller may see (every page)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_CREDENTIAL_PAGES):
            params: dict[str, Any] = {"profile_id": profile_id, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            resp = await _get(self.peers, "credentials", "/v1/credentials", identity, params)
            if resp.status_code in (401, 403, 404):
                return []
            if resp.status_code != 200:
                raise _unexpected("credentials", resp)
            page = _json(resp)
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise ServiceUnavailable()
            items += [c for c in page["items"] if isinstance(c, dict)]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items


# --- the facts the rules read, from the siblings' payloads ---------------------------------
def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def facts_of(profile: dict[str, Any], credentials: list[dict[str, Any]],
             referrals: dict[str, frozenset[str]], today: date) -> Facts:
    birth = _str(profile.get("birth_date"))
    try:
        born = date.fromisoformat(birth) if birth else None
    except ValueError:
        born = None
    documents = [
        DocumentFact(type=str(d.get("type")), issuing_country=_str(d.get("issuing_country")),
                     authorises_work=_bool(d.get("authorises_work")),
                     expired=d.get("expired") is True,
                     accepted_for_identification=d.get("accepted_for_identification") is True)
        for d in profile.get("documents") or [] if isinstance(d, dict)]
    creds = []
    for c in credentials:
        issuer = c.get("issuer")
        issuer = issuer if isinstance(issuer, dict) else {}
        creds.append(CredentialFact(
            kind=str(c.get("kind")), status=str(c.get("status")),
            field_isced=_str(c.get("field_isced")), occupation_isco=_str(c.get("occupation_isco")),
            issuer_country=_str(issuer.get("country")), id=_str(c.get("id"))))
    level = profile.get("education_level")
    return Facts(
        region=str(profile["region"]), age=age_on(born, today),
        population_type=_str(profile.get("population_type")),
        nationality=_str(profile.get("nationality")), documents=tuple(documents),
        education_level=level if isinstance(level, int) else None,
        education_field=_str(profile.get("education_field")),
        occupations=tuple(o for o in (_str(profile.get(k)) for k in (
            "occupation_current", "occupation_training", "occupation_desired")) if o),
        interest_employment=_bool(profile.get("interest_employment")),
        interest_self_employment=_bool(profile.get("interest_self_employment")),
        credentials=tuple(creds), referrals=referrals)
