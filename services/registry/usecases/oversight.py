"""Oversight: the audit log of a profile, and non-identifying statistics."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement

from services.registry.errors import (
    AUDIT_FOR_COORDINATORS,
    NoProfileData,
    RoleNotAllowed,
)
from services.registry.models import profiles_table
from services.registry.presenters import audit_dict, dumps
from services.registry.repository import ProfileRepository
from services.registry.usecases.records import audit_row
from services.registry.usecases.scope import (
    READERS,
    STATISTICS_ROLES,
    load_owned,
    require_role,
)
from shared.clock import utcnow
from shared.db import Database
from shared.identity import Identity, Role
from shared.pagination import CursorCodec

P = profiles_table.c
_COUNTS = ("by_sex", "by_age_band", "by_nationality", "by_population_type", "by_region",
           "by_status")


async def read_audit(*, db: Database, identity: Identity, cursors: CursorCodec,
                     profile_id: str, limit: int, cursor: str | None) -> bytes:
    """Coordinators of the owning organisation read who did what (newest first), including
    the history of profiles merged into this one. Reading the audit is audited."""
    if identity.role in (Role.ADMIN, Role.MINISTRY_SYSTEM):
        raise NoProfileData()
    require_role(identity, READERS)
    before = (int(cursors.decode(cursor, "audit", {"p": profile_id}, caller=identity)[0])
              if cursor else None)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p = await load_owned(repo, identity, profile_id, now)
        if identity.role is not Role.COORDINATOR:
            raise RoleNotAllowed(AUDIT_FOR_COORDINATORS)
        ids = [p.id, *await repo.merged_into(p.id)]
        rows = await repo.audit_page(ids, before, limit + 1)
        items = [audit_dict(r) for r in rows[:limit]]
        await repo.add_audit([audit_row(identity, p.id, "audit_read", [], now)])
        await uow.commit()
    nxt = (cursors.encode("audit", {"p": profile_id}, [items[-1]["id"]], caller=identity)
           if len(rows) > limit else None)
    return dumps({"items": items, "next_cursor": nxt})


def _statistics_where(identity: Identity, *, region: str | None, country: str | None,
                      organisation_id: str | None, registered_from: date | None,
                      registered_to: date | None) -> list[ColumnElement[bool]]:
    """The filters, and a coordinator's own scope (their organisation and regions)."""
    if identity.role not in STATISTICS_ROLES:
        raise RoleNotAllowed()
    where: list[ColumnElement[bool]] = []
    if identity.role is Role.COORDINATOR:
        if identity.organisation_id is None:
            raise RoleNotAllowed()
        where.append(P.organisation_id == identity.organisation_id)
        if identity.regions:
            where.append(P.region.in_(sorted(identity.regions)))
    elif organisation_id:
        where.append(P.organisation_id == organisation_id)
    if region:
        where.append(P.region == region)
    if country:
        where.append(P.country == country)
    if registered_from:
        where.append(P.created_at >= datetime(registered_from.year, registered_from.month,
                                              registered_from.day, tzinfo=utcnow().tzinfo))
    if registered_to:
        end = registered_to.toordinal() + 1
        d = date.fromordinal(end)
        where.append(P.created_at < datetime(d.year, d.month, d.day, tzinfo=utcnow().tzinfo))
    return where


async def statistics(*, db: Database, identity: Identity, region: str | None,
                     country: str | None, organisation_id: str | None,
                     registered_from: date | None, registered_to: date | None
                     ) -> dict[str, Any]:
    """Non-identifying counts (no ids, no cross-tabulation) of active and cancelled people
    who did not oppose statistics. Coordinators count their organisation (and regions)."""
    where = _statistics_where(identity, region=region, country=country,
                              organisation_id=organisation_id,
                              registered_from=registered_from, registered_to=registered_to)
    now = utcnow()
    async with db.uow() as uow:
        rows = await ProfileRepository(uow.session).statistics(where=where, today=now.date())
    out: dict[str, Any] = {"total": 0, **{key: {} for key in _COUNTS}}
    for r in rows:
        n = int(r.n)
        out["total"] += n
        for key, value in (("by_sex", r.sex), ("by_age_band", r.age_band or "unknown"),
                           ("by_nationality", r.nationality),
                           ("by_population_type", r.population_type),
                           ("by_region", r.region), ("by_status", r.status)):
            out[key][value] = out[key].get(value, 0) + n
    for key in _COUNTS:
        out[key] = dict(sorted(out[key].items()))
    out["generated_at"] = now
    return out
