"""The engine's inputs, read from what the siblings answer (the registry's profile and the
credentials service's credentials, for a person's matches) or from the candidates projection,
and from a vacancy row. The work authorisation's standing is computed here, on the day asked,
from the documents' types and expiry dates with ``shared/work_authorisation.json`` — so a
document that lapses overnight is ``lapsed`` the next morning without any event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from services.referrals.eligibility import CredentialFact
from services.referrals.matching.engine import PersonFacts, Requirements, VacancyFacts
from shared.work_authorisation import Standing
from shared.work_authorisation import rules as work_rules


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def iso_date(value: Any) -> date | None:
    """An ISO date as the siblings send it; None when absent or malformed."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def work_standing(documents: Iterable[dict[str, Any]], country: str, today: date
                  ) -> tuple[str, str | None]:
    """``in_force`` when a document authorises work in ``country`` today; ``lapsed`` (with
    its renewal programme) when one did and has expired; else ``absent``."""
    rules = work_rules()
    lapsed: str | None = None
    seen_lapsed = False
    for d in documents:
        doc_type = str(d.get("type"))
        expiry = iso_date(d.get("expiry_date"))
        standing = rules.standing(document_type=doc_type, expiry=expiry, country=country,
                                  today=today)
        if standing is Standing.NOT_AUTHORISING and d.get("authorises_work") is True:
            # marked so by the caseworker though its type is not listed: its expiry decides
            standing = Standing.EXPIRED if expiry is not None and expiry < today \
                else Standing.VALID
        if standing in (Standing.VALID, Standing.RENEWAL_DUE):
            return "in_force", None
        if standing is Standing.EXPIRED:
            seen_lapsed = True
            rule = rules.rule_for(doc_type)
            lapsed = lapsed or (rule.renewal_programme if rule else None)
    return ("lapsed", lapsed) if seen_lapsed else ("absent", None)


def credential_fact(c: dict[str, Any], today: date) -> CredentialFact:
    """A credential as matching sees it; one past its expiry counts as suspended."""
    issuer = c.get("issuer")
    country = _str(issuer.get("country")) if isinstance(issuer, dict) else _str(
        c.get("issuer_country"))
    status = str(c.get("status"))
    expires = iso_date(c.get("expires_on"))
    if expires is not None and expires < today and status not in ("rejected", "revoked"):
        status = "suspended"
    return CredentialFact(kind=str(c.get("kind")), status=status,
                          field_isced=_str(c.get("field_isced")),
                          occupation_isco=_str(c.get("occupation_isco")),
                          issuer_country=country, id=_str(c.get("id")))


def experience_by_code(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in items or []:
        if isinstance(e, dict) and isinstance(e.get("isco"), str) \
                and isinstance(e.get("years"), int):
            out[e["isco"]] = e["years"]
    return out


def person_facts(profile_id: str, facts: dict[str, Any], region: str, today: date
                 ) -> PersonFacts:
    """From the matching facts (the registry's ``/internal/profiles/{id}/matching`` shape,
    kept in the projection, or built from a profile by :func:`facts_of_profile`)."""
    country = region.split("-", 1)[0]
    standing, renewal = work_standing(
        [d for d in facts.get("documents") or [] if isinstance(d, dict)], country, today)
    years = facts.get("years_experience")
    languages = facts.get("languages")
    return PersonFacts(
        profile_id=profile_id, region=region,
        occupations=tuple(o for o in facts.get("occupations") or [] if isinstance(o, str)),
        experience=experience_by_code(facts.get("experience")),
        years_experience=years if isinstance(years, int) else None,
        languages=tuple(lang for lang in languages if isinstance(lang, str))
        if isinstance(languages, list) else None,
        work_authorisation=standing, renewal_programme=renewal,  # type: ignore[arg-type]
        credentials=tuple(credential_fact(c, today) for c in facts.get("credentials") or []
                          if isinstance(c, dict)))


def facts_of_profile(profile: dict[str, Any], credentials: list[dict[str, Any]]
                     ) -> dict[str, Any]:
    """The matching facts from the profile and credentials as the caller reads them."""
    return {
        "occupations": [o for o in (_str(profile.get(k)) for k in (
            "occupation_current", "occupation_training", "occupation_desired")) if o],
        "experience": profile.get("experience") or [],
        "years_experience": profile.get("years_experience"),
        "languages": profile.get("languages"),
        "documents": [{"type": d.get("type"), "expiry_date": d.get("expiry_date"),
                       "authorises_work": d.get("authorises_work")}
                      for d in profile.get("documents") or [] if isinstance(d, dict)],
        "credentials": credentials,
    }


def requirements_of(raw: dict[str, Any]) -> Requirements:
    """A vacancy's stored requirements (``vacancies.schemas.Requirements``) for the engine.
    Language levels are not compared: profiles declare languages without a level."""
    degree = raw.get("degree")
    licence = raw.get("professional_licence")
    return Requirements(
        work_authorisation=raw.get("work_authorisation") is True,
        degree_fields_isced=(degree["field_isced"],) if isinstance(degree, dict) else (),
        licence=isinstance(licence, dict),
        licence_field_isced=licence.get("field_isced") if isinstance(licence, dict) else None,
        certified_skills=tuple(s["occupation_isco"] for s in raw.get("certified_skills") or []
                               if isinstance(s, dict)),
        min_years_experience=raw.get("min_experience_years") or None,
        languages=tuple(lang["code"] for lang in raw.get("languages") or []
                        if isinstance(lang, dict)))


def vacancy_facts(v: Any) -> VacancyFacts:
    return VacancyFacts(id=v.id, isco=v.occupation_isco, country=v.country, region=v.region,
                        requirements=requirements_of(v.requirements or {}))
