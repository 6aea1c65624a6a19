"""The worklist's storage: what a caseworker must act on, one row per thing to act on.

Items come from events — the registry's own ``document.expiring`` / ``document.expired``
(its watch, services/registry/watch.py) and the referrals service's ``referral.overdue``
(services/registry/usecases/worklist.py) —, from the watch's consents expiring, and, for
the portability issue, from a transfer received: :func:`add_worklist_item` is the one way
in for every source, keyed by ``dedupe_key`` so a source that says the same thing twice
updates its item instead of adding one. Nothing here commits: the caller's unit of work
does (docs/decisions/0008).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import profiles_table, renewals_table, worklist_table
from shared.i18n import Text
from shared.models import new_id

W = worklist_table.c
P = profiles_table.c
R = renewals_table.c


class Kind(StrEnum):
    DOCUMENT_EXPIRING = "document_expiring"
    DOCUMENT_EXPIRED = "document_expired"
    REFERRAL_OVERDUE = "referral_overdue"
    CONSENT_EXPIRING = "consent_expiring"
    TRANSFER_RECEIVED = "transfer_received"


class ItemStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # the thing went away (renewed, answered): never listed


# What to do next, per kind: a machine code and the sentence a caseworker reads.
NEXT_STEPS: dict[Kind, tuple[str, Text]] = {
    Kind.DOCUMENT_EXPIRING: ("start_renewal", Text(
        "Inicie la renovación del documento antes de que venza.",
        "Start the document's renewal before it expires.")),
    Kind.DOCUMENT_EXPIRED: ("refer_to_regularisation", Text(
        "El documento venció: derive a la persona a renovación o regularización.",
        "The document has expired: refer the person to renewal or regularisation.")),
    Kind.REFERRAL_OVERDUE: ("follow_up_provider", Text(
        "La derivación pasó su plazo: contacte al proveedor.",
        "The referral is past its deadline: follow up with the provider.")),
    Kind.CONSENT_EXPIRING: ("renew_consent", Text(
        "El consentimiento vence pronto: confírmelo de nuevo con la persona.",
        "The consent expires soon: confirm it again with the person.")),
    Kind.TRANSFER_RECEIVED: ("review_transfer", Text(
        "Perfil recibido de otra organización: revíselo y asigne un responsable.",
        "Profile received from another organisation: review it and assign someone.")),
}
DOCUMENT_KINDS = (Kind.DOCUMENT_EXPIRING.value, Kind.DOCUMENT_EXPIRED.value)


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(worklist_table)


async def add_worklist_item(session: AsyncSession, *, kind: Kind, profile_id: str,
                            subject_type: str, subject_id: str, dedupe_key: str,
                            country: str, due_date: date, details: dict[str, Any],
                            now: datetime, reopen: bool = True) -> None:
    """Put an item on the worklist, or update the one with the same ``dedupe_key``: its kind,
    due date and details change, and with ``reopen`` an acknowledged or resolved item opens
    again (a new horizon reached; a snooze stays). ``reopen=False`` leaves an existing item as
    the caseworker left it."""
    ins = _insert(session).values(
        id=new_id(), kind=kind.value, profile_id=profile_id, subject_type=subject_type,
        subject_id=subject_id, dedupe_key=dedupe_key, country=country, due_date=due_date,
        details=details, status=ItemStatus.OPEN.value, created_at=now, updated_at=now,
        version=1)
    if not reopen:
        await session.execute(ins.on_conflict_do_nothing(index_elements=["dedupe_key"]))
        return
    await session.execute(ins.on_conflict_do_update(
        index_elements=["dedupe_key"],
        set_={"kind": kind.value, "due_date": due_date, "details": details,
              "profile_id": profile_id,
              "status": ItemStatus.OPEN.value, "updated_at": now, "version": W.version + 1}))


async def add_many(session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime,
                   *, reopen: bool = True) -> int:
    """:func:`add_worklist_item` for many items of the watch: new ones inserted in one
    statement; existing ones (a later horizon of the same expiry) updated and reopened, or
    with ``reopen=False`` left alone. Returns how many were new."""
    if not rows:
        return 0
    keys = [r["dedupe_key"] for r in rows]
    existing = set((await session.scalars(
        select(W.dedupe_key).where(W.dedupe_key.in_(keys)))).all())
    fresh = [{"id": new_id(), **r, "status": ItemStatus.OPEN.value, "created_at": now,
              "updated_at": now, "version": 1} for r in rows if r["dedupe_key"] not in existing]
    if fresh:
        await session.execute(worklist_table.insert(), fresh)
    for r in rows:
        if reopen and r["dedupe_key"] in existing:
            await session.execute(
                update(worklist_table).where(W.dedupe_key == r["dedupe_key"])
                .values(kind=r["kind"], due_date=r["due_date"], details=r["details"],
                        profile_id=r["profile_id"],
                        status=ItemStatus.OPEN.value, updated_at=now,
                        version=W.version + 1))
    return len(fresh)


def document_key(document_id: str, expiry: date | None) -> str:
    return f"document:{document_id}:{expiry}"


def referral_key(referral_id: str, phase: str) -> str:
    return f"referral:{referral_id}:{phase}"


async def resolve(session: AsyncSession, keys: Sequence[str], now: datetime) -> None:
    """The thing went away (a deadline met, a document replaced): its items (by their
    ``dedupe_key``, the unique index) leave the list."""
    await session.execute(
        update(worklist_table).where(W.dedupe_key.in_(list(keys)),
                                     W.status != ItemStatus.RESOLVED.value)
        .values(status=ItemStatus.RESOLVED.value, updated_at=now, version=W.version + 1))


def renewal_open(profile_id: Any) -> ColumnElement[bool]:
    """A renewal in progress for the person: their document reminders are off the list."""
    return exists().where(R.profile_id == profile_id, R.open.is_(True))


async def page(session: AsyncSession, *, visible: ColumnElement[bool],
               kinds: Sequence[str], region: str | None, status: str,
               todays: dict[str, date], within_days: int | None,
               after: tuple[str, str] | None, limit: int) -> list[Row[Any]]:
    """Items of ``status`` of visible active people, snoozed ones once their day has come
    (each country's day), soonest due first, by (due date, id)."""
    by_country = []
    for country, today in todays.items():
        cond = and_(W.country == country,
                    or_(W.snoozed_until.is_(None), W.snoozed_until <= today))
        if within_days is not None:
            cond = and_(cond, W.due_date <= today + timedelta(days=within_days))
        by_country.append(cond)
    q = (select(worklist_table, P.region, P.organisation_id)
         .join(profiles_table, P.id == W.profile_id)
         .where(W.status == status, or_(*by_country), P.status == "active", visible,
                or_(W.kind.not_in(DOCUMENT_KINDS), ~renewal_open(W.profile_id))))
    if kinds:
        q = q.where(W.kind.in_(list(kinds)))
    if region:
        q = q.where(P.region == region)
    if after is not None:
        due, item_id = date.fromisoformat(after[0]), after[1]
        q = q.where(or_(W.due_date > due, and_(W.due_date == due, W.id > item_id)))
    q = q.order_by(W.due_date, W.id).limit(limit)
    return list((await session.execute(q)).all())


async def get(session: AsyncSession, item_id: str) -> Row[Any] | None:
    q = (select(worklist_table, P.region, P.organisation_id, P.status.label("profile_status"))
         .join(profiles_table, P.id == W.profile_id).where(W.id == item_id))
    return (await session.execute(q)).first()


async def set_state(session: AsyncSession, item_id: str, version: int,
                    values: dict[str, Any], now: datetime) -> bool:
    """Change one item if it still has ``version`` (another change since: False)."""
    result = await session.execute(
        update(worklist_table).where(W.id == item_id, W.version == version)
        .values(**values, updated_at=now, version=version + 1))
    return bool(getattr(result, "rowcount", 0))


__all__ = ["DOCUMENT_KINDS", "NEXT_STEPS", "ItemStatus", "Kind", "add_many",
           "add_worklist_item", "document_key", "get", "page", "referral_key",
           "renewal_open", "resolve",
           "set_state"]
