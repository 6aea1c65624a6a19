from __future__ import annotations

from services.referrals.catalogue import PROGRAMMES
from services.referrals.models import Programme
from services.referrals.repository import ProgrammeRepository
from services.referrals.schemas import Country, ProgrammeOut, RouteType
from shared.db import Database
from shared.identity import Identity
from shared.pagination import CursorCodec, Page


async def list_programmes(
    *, db: Database, identity: Identity, cursors: CursorCodec, country: Country | None,
    route_type: RouteType | None, limit: int, cursor: str | None,
) -> Page[ProgrammeOut]:
    filters = {"country": country, "route_type": route_type}
    after = cursors.decode(cursor, "programmes", filters)[0] if cursor else None
    async with db.uow() as uow:
        rows = await ProgrammeRepository(uow.session).list(
            country=country, route_type=route_type, after=after, limit=limit + 1)
        items = [ProgrammeOut.model_validate(p) for p in rows[:limit]]
    nxt = cursors.encode("programmes", filters, [items[-1].id]) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


async def seed_catalogue(*, db: Database) -> int:
    """Insert the reference programmes that are missing; never overwrite an admin's edits."""
    async with db.uow() as uow:
        repo = ProgrammeRepository(uow.session)
        have = await repo.existing_ids()
        added = 0
        for item in PROGRAMMES:
            if item["id"] not in have:
                repo.add(Programme(**item))
                added += 1
        await uow.commit()
    return added
