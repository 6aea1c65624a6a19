"""The caseworker's worklist (``GET /v1/worklist``): what to act on, for the people the caller
may see, and the three things a caseworker does with an item (acknowledge, snooze, assign).
Also the registry's handlers of the referrals service's events that feed it.

Scope: caseworkers and coordinators, over the people the profile lists show them (the one
visibility rule, services.registry.access: organisation, regions, consent); an item of a
person outside it is 404 like the person. The list is one table the registry owns, fed by
its own watch and by events, so one keyset cursor ``(due date, id)`` pages every kind
(docs/decisions/0008).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.registry import worklist as items
from services.registry.access import visible_clause_listed
from services.registry.errors import WorklistItemNotFound
from services.registry.models import ProfileStatus, profiles_table, renewals_table
from services.registry.presenters import RowView, dumps
from services.registry.repository import ProfileRepository
from services.registry.usecases.scope import load_access, require_role
from services.registry.worklist import NEXT_STEPS, ItemStatus, Kind
from shared.clock import as_utc, utcnow
from shared.concurrency import ExpectedVersion
from shared.db import Database, UnitOfWork
from shared.errors import PreconditionFailed, ValidationFailed
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.outbox import EventEnvelope
from shared.pagination import CursorCodec
from shared.work_authorisation import COUNTRY_ZONES, rules, today_in

WORKLIST_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR})
P = profiles_table.c
R = renewals_table.c
# A renewal referral in one of these states is a renewal in progress.
OPEN_REFERRAL = frozenset({"requested", "accepted", "in_progress", "on_hold"})
CLOSED_REFERRAL = frozenset({"completed", "failed", "cancelled", "rejected"})
MAX_SNOOZE_DAYS = 365
SNOOZE_RANGE = Text("Indique un día posterior a hoy y dentro de un año",
                    "Give a day after today and within a year")


@dataclass(frozen=True)
class WorklistFilters:
    kind: str | None = None
    region: str | None = None
    within_days: int | None = None
    status: str = ItemStatus.OPEN.value

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "region": self.region, "within_days": self.within_days,
                "status": self.status}


def item_dict(row: Any, now: datetime) -> dict[str, Any]:
    kind = Kind(row.kind)
    code, text = NEXT_STEPS[kind]
    today = today_in(row.country, now)
    return {"id": row.id, "kind": kind.value, "profile_id": row.profile_id,
            "region": row.region, "country": row.country, "subject_type": row.subject_type,
            "subject_id": row.subject_id, "due_date": row.due_date,
            "days_left": (row.due_date - today).days, "status": row.status,
            "snoozed_until": row.snoozed_until, "assigned_to": row.assigned_to,
            "details": row.details or {}, "next_step": {"code": code, "text": text.render()},
            "version": row.version, "updated_at": as_utc(row.updated_at)}


async def list_worklist(*, db: Database, identity: Identity, cursors: CursorCodec,
                        filters: WorklistFilters, limit: int, cursor: str | None) -> bytes:
    require_role(identity, WORKLIST_ROLES)
    fp = filters.as_dict()
    position = cursors.decode(cursor, "worklist", fp, caller=identity) if cursor else None
    after = (str(position[0]), str(position[1])) if position and len(position) == 2 else None
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        org = identity.organisation_id
        shared = await repo.shared_profile_ids(org, now) if org else []
        rows = await items.page(
            uow.session, visible=visible_clause_listed(identity, now, shared),
            kinds=[filters.kind] if filters.kind else [], region=filters.region,
            status=filters.status, todays={c: today_in(c, now) for c in COUNTRY_ZONES},
            within_days=filters.within_days, after=after, limit=limit + 1)
    page = [item_dict(r, now) for r in rows[:limit]]
    nxt = (cursors.encode("worklist", fp, [page[-1]["due_date"].isoformat(), page[-1]["id"]],
                          caller=identity) if len(rows) > limit else None)
    return dumps({"items": page, "next_cursor": nxt})


async def act_on_item(*, db: Database, identity: Identity, item_id: str, action: str,
                      expected: ExpectedVersion | None, until: date | None = None,
                      assignee: str | None = None) -> tuple[bytes, int]:
    """``acknowledge`` (seen: off the open list until a new horizon reopens it), ``snooze``
    (off the list until ``until``, the country's day) or ``assign`` (to ``assignee``).
    Another organisation's item, or one of a person outside the caller's regions, is 404."""
    require_role(identity, WORKLIST_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        row = await items.get(uow.session, item_id)
        if row is None or row.profile_status != ProfileStatus.ACTIVE \
                or row.status == ItemStatus.RESOLVED.value:
            raise WorklistItemNotFound()
        person = RowView({"id": row.profile_id, "organisation_id": row.organisation_id,
                          "region": row.region})
        if await load_access(ProfileRepository(uow.session), identity, person, now) is None:
            raise WorklistItemNotFound()
        if expected is not None:
            expected.check(row.version)
        values: dict[str, Any]
        if action == "acknowledge":
            values = {"status": ItemStatus.ACKNOWLEDGED.value}
        elif action == "snooze":
            assert until is not None
            today = today_in(row.country, now)
            if not today < until <= today + timedelta(days=MAX_SNOOZE_DAYS):
                raise ValidationFailed([("until", SNOOZE_RANGE)])
            values = {"snoozed_until": until}
        else:
            values = {"assigned_to": assignee}
        if not await items.set_state(uow.session, item_id, row.version, values, now):
            raise PreconditionFailed()
        fresh = await items.get(uow.session, item_id)
        await uow.commit()
    assert fresh is not None
    return dumps(item_dict(fresh, now)), int(fresh.version)


# --- the referrals service's events ------------------------------------------------------
def renewal_programmes() -> frozenset[str]:
    """The programmes that renew or regularise a work authorisation (the rules file's)."""
    return frozenset(d.renewal_programme for d in rules().documents if d.renewal_programme)


async def _country_of_person(uow: UnitOfWork, profile_id: str) -> str | None:
    return await uow.session.scalar(select(P.country).where(P.id == profile_id))


async def on_document_event(uow: UnitOfWork, event: EventEnvelope) -> None:
    """The registry's own watch announced a document (``document.expiring`` at a new horizon,
    or ``document.expired``): its item on the worklist, one per document and expiry date,
    reopened at each announcement (a snooze holds until its day)."""
    data = event.data
    country = str(data.get("country") or "")
    if country not in COUNTRY_ZONES:
        return
    expiry = date.fromisoformat(str(data["expiry_date"]))
    rule = rules().rule_for(str(data.get("document_type")))
    expired = event.type == "document.expired"
    await items.add_worklist_item(
        uow.session, kind=Kind.DOCUMENT_EXPIRED if expired else Kind.DOCUMENT_EXPIRING,
        profile_id=str(data["profile_id"]), subject_type="document",
        subject_id=event.subject_id, dedupe_key=items.document_key(event.subject_id, expiry),
        country=country, due_date=expiry,
        details={"document_type": data.get("document_type"),
                 "expiry_date": expiry.isoformat(),
                 "renewal_programme": rule.renewal_programme if rule else None,
                 "horizon_days": data.get("horizon_days")},
        now=utcnow())


async def on_referral_overdue(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A referral passed its deadline: the person's caseworkers follow up with the provider."""
    data = event.data
    profile_id = str(data.get("profile_id") or "")
    country = await _country_of_person(uow, profile_id)
    if country not in COUNTRY_ZONES:
        return  # not a person of this registry
    due = datetime.fromisoformat(str(data["due_at"]))
    phase = str(data.get("phase") or "")
    await items.add_worklist_item(
        uow.session, kind=Kind.REFERRAL_OVERDUE, profile_id=profile_id,
        subject_type="referral", subject_id=event.subject_id,
        dedupe_key=items.referral_key(event.subject_id, phase), country=str(country),
        due_date=as_utc(due).astimezone(COUNTRY_ZONES[str(country)]).date(),
        details={"programme_id": data.get("programme_id"),
                 "provider_id": data.get("provider_id"), "phase": phase,
                 "status": data.get("status")},
        now=utcnow(), reopen=False)


async def on_referral_changed(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A referral was made or moved: a renewal referral opens or closes a renewal in progress
    (the person's document reminders pause meanwhile); a referral that moved past a deadline
    takes its overdue items off the list."""
    data = event.data
    status = str(data.get("to") or data.get("status") or "")
    now = utcnow()
    if event.type == "referral.status_changed":
        phases = ["accept", "complete"] if status in CLOSED_REFERRAL else \
            ["accept"] if status != "requested" else []
        if phases:
            await items.resolve(uow.session, [items.referral_key(event.subject_id, phase)
                                              for phase in phases], now)
    if data.get("programme_id") not in renewal_programmes():
        return
    row = {"profile_id": str(data.get("profile_id") or ""),
           "programme_id": str(data["programme_id"]), "status": status,
           "open": status in OPEN_REFERRAL, "updated_at": now}
    existing = await uow.session.scalar(select(R.referral_id).where(
        R.referral_id == event.subject_id))
    if existing is None:
        await uow.session.execute(renewals_table.insert().values(
            referral_id=event.subject_id, **row))
    else:
        await uow.session.execute(renewals_table.update().where(
            R.referral_id == event.subject_id).values(**row))
