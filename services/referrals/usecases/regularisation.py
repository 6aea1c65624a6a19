"""Referrals at risk: a person whose work authorisation lapsed cannot take the job an
employment referral leads to, so their open referrals to programmes that need a valid
authorisation are flagged ``at_risk`` and the provider is told (``referral.at_risk``); the
flag clears when a new work-authorising document is recorded (issue 19, decision 0009).

The registry's document watch says what happened (``document.expired``,
``document.expiring``, ``document.recorded``: document id, profile id, document type, expiry
date), and each event replaces what is known of that one document, so an expiry a caseworker
corrects to an earlier date counts when it lapses; which
documents authorise work, and where, is the shared rule (``shared/work_authorisation.json``),
not the event's nor the caseworker's mark. Which programmes need a valid authorisation is the
recommendation rules' (a ``work_authorisation`` requirement), so the route's advice and its
risk flags never disagree. Each handler runs in the inbox's unit of work (exactly once per
event), and a referral is flagged or cleared once: a second event of the same kind changes
nothing and emits nothing.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, NamedTuple

import structlog
from sqlalchemy import delete, or_, select

from services.referrals.lifecycle import OPEN
from services.referrals.lifecycle import Status as ReferralStatus
from services.referrals.models import Referral, WorkAuthorisation
from services.referrals.rules import RuleSet, needs_work_authorisation
from services.referrals.workflow import referral_event
from shared import work_authorisation
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.outbox import EventEnvelope
from shared.work_authorisation import today_in

log = structlog.get_logger("ruta.referrals")

LAPSED = "work_authorisation_lapsed"
RECORDED = "work_authorisation_recorded"
_ID = re.compile(r"[A-Za-z0-9-]{1,36}")
_TYPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class _Document(NamedTuple):
    id: str
    profile_id: str
    document_type: str
    expiry: date | None
    countries: list[str]


def _document(event: EventEnvelope) -> _Document | None:
    """The document the event is about (its subject), with the countries where it authorises
    work by the rules; None for an event that is malformed or about a document that
    authorises no work (a malformed event must not stall the feed)."""
    data = event.data
    profile_id, document_type = data.get("profile_id"), data.get("document_type")
    if not (_ID.fullmatch(event.subject_id)
            and isinstance(profile_id, str) and _ID.fullmatch(profile_id)
            and isinstance(document_type, str) and _TYPE.fullmatch(document_type)):
        return None
    raw = data.get("expiry_date")
    try:
        expiry = date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    rule = work_authorisation.rules().rule_for(document_type)
    if rule is None:
        return None
    countries = list(rule.authorises_work_in)
    if isinstance(data.get("country"), str) and data["country"] in countries:
        countries = [data["country"]]
    return _Document(event.subject_id, profile_id, document_type, expiry, countries)


async def _remember(uow: UnitOfWork, profile_id: str, country: str, document_id: str,
                    document_type: str, expiry: date | None) -> None:
    """The document's expiry is the one last told: a correction to an earlier date replaces
    the later one (keeping the later would hide the lapse)."""
    row = await uow.session.get(WorkAuthorisation, (profile_id, country, document_id))
    now = utcnow()
    if row is None:
        uow.session.add(WorkAuthorisation(profile_id=profile_id, country=country,
                                          document_id=document_id,
                                          document_type=document_type, expiry_date=expiry,
                                          updated_at=now))
    else:
        row.document_type, row.expiry_date, row.updated_at = document_type, expiry, now


async def _covered_by_another(uow: UnitOfWork, profile_id: str, country: str,
                              document_id: str) -> bool:
    """Does another of the person's documents still let them work in ``country`` today
    (renewed before this one lapsed)?"""
    q = (select(WorkAuthorisation.document_id)
         .where(WorkAuthorisation.profile_id == profile_id,
                WorkAuthorisation.country == country,
                WorkAuthorisation.document_id != document_id,
                or_(WorkAuthorisation.expiry_date.is_(None),
                    WorkAuthorisation.expiry_date >= today_in(country)))
         .limit(1))
    return (await uow.session.scalar(q)) is not None


def _at_risk_programmes(rules: RuleSet) -> list[str]:
    return [r.programme for r in rules.rules if needs_work_authorisation(r)]


async def _open_referrals(uow: UnitOfWork, rules: RuleSet, profile_id: str, country: str,
                          *, flagged: bool) -> list[Referral]:
    q = (select(Referral)
         .where(Referral.profile_id == profile_id, Referral.country == country,
                Referral.status.in_([s.value for s in OPEN]),
                Referral.programme_id.in_(_at_risk_programmes(rules)),
                Referral.at_risk_reason.is_not(None) if flagged
                else Referral.at_risk_reason.is_(None))
         .order_by(Referral.created_at, Referral.id))
    return list((await uow.session.scalars(q)).all())


def _event_data(r: Referral, *, at_risk: bool, reason_code: str,
                document_type: str | None) -> dict[str, Any]:
    return {"status": ReferralStatus(r.status).value, "at_risk": at_risk,
            "reason_code": reason_code, "document_type": document_type}


async def on_document_expired(uow: UnitOfWork, event: EventEnvelope, rules: RuleSet) -> None:
    """A work-authorising document lapsed: flag the person's open referrals that need one,
    unless a newer document already covers them (renewed before the old one lapsed)."""
    found = _document(event)
    if found is None:
        return
    doc_id, profile_id, document_type, expiry, countries = found
    for country in countries:
        if expiry is not None and expiry >= today_in(country):
            continue  # not lapsed yet on the country's day (an early or replayed event)
        await _remember(uow, profile_id, country, doc_id, document_type, expiry)
        if await _covered_by_another(uow, profile_id, country, doc_id):
            continue  # a newer document still covers the person
        now = utcnow()
        flagged = await _open_referrals(uow, rules, profile_id, country, flagged=False)
        for r in flagged:
            r.at_risk_reason, r.at_risk_document_type, r.at_risk_since = (
                LAPSED, document_type, now)
            r.updated_at = now
        await uow.session.flush()  # the new versions go out with the events
        for r in flagged:
            uow.emit(referral_event("referral.at_risk", r, _event_data(
                r, at_risk=True, reason_code=LAPSED, document_type=document_type)))
        if flagged:
            log.info("referrals_at_risk", count=len(flagged))


async def on_document_expiring(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A work-authorising document nears its expiry: remember it (the indicators count who
    lapses within 30 days); nothing is flagged yet."""
    found = _document(event)
    if found is None:
        return
    doc_id, profile_id, document_type, expiry, countries = found
    for country in countries:
        await _remember(uow, profile_id, country, doc_id, document_type, expiry)


async def on_document_recorded(uow: UnitOfWork, event: EventEnvelope, rules: RuleSet) -> None:
    """A new work-authorising document in force: the person may work again, so the flag
    clears on their open referrals (the provider hears ``referral.at_risk`` with
    ``at_risk=false``)."""
    found = _document(event)
    if found is None:
        return
    doc_id, profile_id, document_type, expiry, countries = found
    for country in countries:
        await _remember(uow, profile_id, country, doc_id, document_type, expiry)
        if expiry is not None and expiry < today_in(country):
            continue  # an already lapsed document authorises nothing
        now = utcnow()
        cleared = await _open_referrals(uow, rules, profile_id, country, flagged=True)
        for r in cleared:
            r.at_risk_reason = r.at_risk_document_type = r.at_risk_since = None
            r.updated_at = now
        await uow.session.flush()
        for r in cleared:
            uow.emit(referral_event("referral.at_risk", r, _event_data(
                r, at_risk=False, reason_code=RECORDED, document_type=document_type)))
        if cleared:
            log.info("referrals_at_risk_cleared", count=len(cleared))


async def forget_person(uow: UnitOfWork, profile_id: str) -> None:
    """Cancellation (ARCO): the person's work authorisations go (no count needs them)."""
    await uow.session.execute(delete(WorkAuthorisation).where(
        WorkAuthorisation.profile_id == profile_id))


async def merge_person(uow: UnitOfWork, merged: str, survivor: str) -> None:
    """A merged duplicate's documents join the survivor's (each keeps its own expiry)."""
    rows = (await uow.session.scalars(select(WorkAuthorisation).where(
        WorkAuthorisation.profile_id == merged))).all()
    for row in rows:
        await _remember(uow, survivor, row.country, row.document_id, row.document_type,
                        row.expiry_date)
    await uow.session.flush()
    await forget_person(uow, merged)
