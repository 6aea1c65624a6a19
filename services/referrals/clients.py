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

from services.referrals.eligibility import CredentialFact, DocumentFact, Facts, age_on
from shared.errors import AppError, ServiceUnavailable
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.peers import NOT_VISIBLE, Peers

REFERRAL_PURPOSE = "referral"
MAX_CREDENTIAL_PAGES = 10
SYSTEM = Identity(subject="svc-referrals", role=Role.SYSTEM, organisation_id=None)


class ProfileGone(AppError):
    status = 410
    code = "profile-erased"
    detail_text = Text("Los datos de esta persona fueron cancelados (derecho ARCO).",
                       "This person's data was cancelled (ARCO right).")


GONE: dict[int, type[AppError]] = {410: ProfileGone}


@dataclass(frozen=True)
class ConsentAnswer:
    granted: bool
    consent_id: str | None
    # the person answered for (a merged id's survivor), with the facts a referral needs
    profile_id: str | None = None
    organisation_id: str | None = None
    region: str | None = None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ServiceUnavailable()
    return body


class Registry:
    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    async def profile(self, identity: Identity, profile_id: str, *, gone_as_absent: bool = True
                      ) -> dict[str, Any] | None:
        """The profile as ``identity`` may see it; None when it may not (or it is gone). A
        merged profile answers as its survivor, with the survivor's id."""
        body = await self.peers.get_json("registry", f"/v1/profiles/{profile_id}",
                                         identity=identity, absent=NOT_VISIBLE,
                                         errors=None if gone_as_absent else GONE)
        if body is None:
            return None
        if (not isinstance(body, dict) or not isinstance(body.get("id"), str)
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
        body = await self.peers.get_json(
            "registry", f"/v1/profiles/{profile_id}/consent-check", identity=identity,
            params=params, absent=NOT_VISIBLE)
        if body is None:
            return None
        granted = _object(body).get("granted")
        if not isinstance(granted, bool):
            raise ServiceUnavailable()
        facts = [body.get(k) for k in ("consent_id", "profile_id", "organisation_id", "region")]
        return ConsentAnswer(granted, *[v if isinstance(v, str) else None for v in facts])


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
            page = await self.peers.get_json("credentials", "/v1/credentials",
                                             identity=identity, params=params,
                                             absent=NOT_VISIBLE)
            if page is None:
                return []
            if not isinstance(_object(page).get("items"), list):
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


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


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
                     accepted_for_identification=d.get("accepted_for_identification") is True,
                     expiry_date=_date(d.get("expiry_date")))
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
        credentials=tuple(creds), referrals=referrals, today=today)
