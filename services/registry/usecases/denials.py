"""The owner's security audit of refused access: who, from which organisation, tried which
route on one of its people and was answered 404 (outside their scope), and when.

Recording (:func:`record_denial`) is one INSERT ... SELECT from ``profiles``, run for every
such 404 whether the id exists or not: it writes only for a person who exists, and costs the
same primary-key lookup when none does (docs/decisions/0007). It runs after the 404 has been
sent (services.registry.denials), in its own transaction: the refused use case rolled back.
"""

from __future__ import annotations

from typing import Any

from services.registry.errors import RoleNotAllowed
from services.registry.presenters import denial_dict, dumps
from services.registry.repository import ProfileRepository
from services.registry.usecases.records import audit_row
from services.registry.usecases.scope import load_owned, not_found
from shared.clock import utcnow
from shared.db import Database
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.pagination import CursorCodec

DENIALS_FOR_COORDINATORS = Text(
    "Solo coordinadores de la organización y administradores leen los accesos denegados.",
    "Only the organisation's coordinators and admins read the denied accesses.")


async def record_denial(*, db: Database, identity: Identity, profile_id: str, route: str,
                        method: str) -> None:
    """Count one refused attempt of ``identity`` on ``route`` against ``profile_id`` today
    (nothing when no such person exists, or the caller acts for no organisation: a service's
    own identity). ``route`` is the route's template, never the path with its query."""
    if identity.organisation_id is None:
        return
    probe: dict[str, Any] = {
        "prober_organisation_id": identity.organisation_id,
        "prober_subject": identity.subject, "prober_role": identity.role.value,
        "method": method, "route": route}
    async with db.uow() as uow:
        await ProfileRepository(uow.session).record_denial(profile_id, probe, utcnow())
        await uow.commit()


async def read_denials(*, db: Database, identity: Identity, cursors: CursorCodec,
                       profile_id: str, limit: int, cursor: str | None) -> bytes:
    """Coordinators of the owning organisation, and admins, read the refused attempts on a
    person (and on profiles merged into it), latest first. They hold no data of the person,
    only of the callers refused, which is why admins may read them. The reading is audited."""
    if identity.role not in (Role.COORDINATOR, Role.ADMIN) or (
            identity.role is Role.COORDINATOR and identity.organisation_id is None):
        raise RoleNotAllowed(DENIALS_FOR_COORDINATORS)
    before = (int(cursors.decode(cursor, "access-denials", {"p": profile_id},
                                  caller=identity)[0]) if cursor else None)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        if identity.role is Role.COORDINATOR:
            p = await load_owned(repo, identity, profile_id, now)
        elif (found := await repo.get(profile_id)) is not None:
            p = found
        else:
            raise await not_found(repo, identity, profile_id)
        ids = [p.id, *await repo.merged_into(p.id)]
        rows = await repo.denials_page(ids, before, limit + 1)
        items = [denial_dict(r) for r in rows[:limit]]
        await repo.add_audit([audit_row(identity, p.id, "access_denials_read", [], now)])
        await uow.commit()
    nxt = (cursors.encode("access-denials", {"p": profile_id}, [items[-1]["id"]],
                          caller=identity) if len(rows) > limit else None)
    return dumps({"items": items, "next_cursor": nxt})
