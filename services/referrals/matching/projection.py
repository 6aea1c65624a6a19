"""Keeping the candidates projection (``match_people``, ``match_consents``,
``match_occupations``) from events, exactly once through the inbox, like the reports' people
(``reports/projection.py``): any registry event about a person (profile created, updated,
merged, erased; consent granted or withdrawn) and any credential event about their
credentials refreshes that person's rows from the registry's and the credentials service's
internal answers, as the system. A person with no live ``job_matching`` consent, or no longer
active, has no rows: the projection holds consenting people only.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert

from services.referrals.clients import SYSTEM
from services.referrals.matching.engine import DEAD
from services.referrals.matching.facts import credential_fact, experience_by_code, iso_date
from services.referrals.matching.models import (
    MatchCandidate,
    MatchConsent,
    MatchCredential,
    MatchOccupation,
    MatchPerson,
)
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.errors import ServiceUnavailable
from shared.outbox import EventEnvelope
from shared.peers import Peers
from shared.work_authorisation import rules as work_rules

PERSON_EVENTS = ("profile.created", "profile.updated", "profile.merged", "profile.erased",
                 "consent.granted", "consent.withdrawn")
CREDENTIAL_EVENTS = ("credential.created", "credential.status_changed", "credential.revoked")
PROFILE_ID = re.compile(r"[A-Za-z0-9-]{1,36}")


async def _get(peers: Peers, service: str, path: str, params: dict[str, str] | None = None
               ) -> Any:
    resp = await peers.request(service, "GET", path, identity=SYSTEM, params=params)
    if resp.status_code in (404, 422):
        return None
    if resp.status_code != 200:  # the event is retried by the dispatcher
        raise ServiceUnavailable()
    return resp.json()


async def fetch_facts(peers: Peers, profile_id: str) -> dict[str, Any] | None:
    """The person's matching facts with their credentials; None when unknown."""
    if not PROFILE_ID.fullmatch(profile_id):
        return None
    person = await _get(peers, "registry", f"/internal/profiles/{profile_id}/matching")
    if not isinstance(person, dict):
        return None
    if person.get("status") == "active" and person.get("job_matching"):
        creds = await _get(peers, "credentials", "/internal/credentials/facts",
                           {"profile_id": profile_id})
        person["credentials"] = creds.get("items", []) if isinstance(creds, dict) else []
    return person


def _live(consents: list[dict[str, Any]], now: datetime) -> dict[str, datetime | None]:
    out: dict[str, datetime | None] = {}
    for c in consents:
        org = c.get("organisation_id")
        until = c.get("valid_until")
        end = datetime.fromisoformat(until) if isinstance(until, str) else None
        if isinstance(org, str) and (end is None or end > now):
            out[org] = end
    return out


def work_authorised_until(documents: Any, country: str) -> date | None:
    """``facts.work_standing`` kept as one date: the latest expiry among the documents that
    authorise work in ``country`` (``date.max`` when one never expires), None when none does.
    On a day D the standing is in force when this date is >= D, lapsed when earlier."""
    rules = work_rules()
    latest: date | None = None
    for d in documents or []:
        if not isinstance(d, dict):
            continue
        rule = rules.rule_for(str(d.get("type")))
        by_rule = rule is not None and country in rule.authorises_work_in
        if not by_rule and d.get("authorises_work") is not True:
            continue
        until = iso_date(d.get("expiry_date")) or date.max
        latest = until if latest is None else max(latest, until)
    return latest


def rows_for(profile_id: str, person: dict[str, Any] | None, now: datetime
             ) -> dict[type, list[dict[str, Any]]]:
    """The projection's rows for one person (model → rows), from the registry's matching
    answer with the person's credentials: none unless active with a live consent. The event
    projection and a bulk loader (the benchmark) write exactly these."""
    if person is None or person.get("status") != "active":
        return {}
    consents = _live(person.get("job_matching") or [], now)
    if not consents:
        return {}
    country, region = str(person["country"]), str(person["region"])
    facts = {k: person.get(k) for k in ("occupations", "experience", "years_experience",
                                        "languages", "documents", "credentials")}
    years = person.get("years_experience")
    years = years if isinstance(years, int) else None
    credentials = [c for c in person.get("credentials") or [] if isinstance(c, dict)]
    codes = {*(person.get("occupations") or []),
             *(e.get("isco") for e in person.get("experience") or [] if isinstance(e, dict)),
             *(c.get("occupation_isco") for c in credentials
               if c.get("status") not in DEAD)}
    codes = {c for c in codes if isinstance(c, str) and c}
    experience = experience_by_code(person.get("experience"))
    languages = sorted({x for x in person.get("languages") or [] if isinstance(x, str)})
    scalars = {"region": region, "years_experience": years,
               "declared_experience": bool(experience),
               "wa_until": work_authorised_until(person.get("documents"), country),
               "languages": "|" + "|".join(languages) + "|" if languages else None}
    out: dict[type, list[dict[str, Any]]] = {
        MatchPerson: [{"profile_id": profile_id, "country": country, "region": region,
                       "initials": person.get("initials"), "years_experience": years,
                       "facts": facts, "updated_at": now}],
        MatchOccupation: [{"profile_id": profile_id, "isco": code} for code in sorted(codes)],
        MatchConsent: [{"organisation_id": org, "profile_id": profile_id, "valid_until": until}
                       for org, until in sorted(consents.items())],
        MatchCandidate: [{"organisation_id": org, "country": country, "isco": code,
                          "profile_id": profile_id, "valid_until": until,
                          "years": experience.get(code), **scalars}
                         for org, until in sorted(consents.items()) for code in sorted(codes)],
        MatchCredential: [],
    }
    seen: set[str] = set()
    for c in credentials:
        fact = credential_fact(c, date.min)  # the status as kept; expiry is judged per day
        if fact.status in DEAD or not fact.id or fact.id in seen or len(fact.id) > 36:
            continue
        seen.add(fact.id)
        out[MatchCredential].append({
            "profile_id": profile_id, "credential_id": fact.id, "kind": fact.kind,
            "status": fact.status, "field_isced": fact.field_isced,
            "occupation_isco": fact.occupation_isco, "issuer_country": fact.issuer_country,
            "expires_on": iso_date(c.get("expires_on"))})
    return out


async def store(uow: UnitOfWork, profile_id: str, person: dict[str, Any] | None) -> None:
    """Replace the person's rows by what the registry says now (or drop them)."""
    s = uow.session
    for model in (MatchCandidate, MatchCredential, MatchConsent, MatchOccupation, MatchPerson):
        await s.execute(delete(model).where(model.profile_id == profile_id))
    rows = rows_for(profile_id, person, utcnow())
    for model in (MatchPerson, MatchOccupation, MatchConsent, MatchCandidate, MatchCredential):
        if rows.get(model):
            await s.execute(insert(model), rows[model])


async def project_matching(uow: UnitOfWork, event: EventEnvelope, peers: Peers) -> None:
    """A registry or credentials event about a person: refresh their rows (and a merge's
    survivor's)."""
    if event.subject_type == "profile":
        ids = [event.subject_id]
        survivor = event.data.get("merged_into")
        if isinstance(survivor, str) and 0 < len(survivor) <= 36:
            ids.append(survivor)
    elif event.subject_type == "credential":
        pid = event.data.get("profile_id")
        if not isinstance(pid, str):
            return
        ids = [pid]
    else:
        return
    for pid in ids:
        await store(uow, pid, await fetch_facts(peers, pid))
