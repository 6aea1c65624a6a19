"""The outbox shares the business transaction: both are stored, or neither."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from services.registry.models import Profile
from shared.db import Database
from shared.outbox import Event
from shared.tables import outbox_events


class Boom(Exception):
    pass


def _profile(org: str) -> Profile:
    return Profile(organisation_id=org, given_names="Ana", first_surname="Gómez",
                   birth_date=date(1990, 1, 1), sex="female", nationality="VEN",
                   population_type="migrant", country="PE", region="PE-LMA",
                   created_by="test")


async def _counts(db: Database, org: str) -> tuple[int, int]:
    async with db.uow() as uow:
        rows = await uow.session.scalar(
            select(func.count()).select_from(Profile).where(Profile.organisation_id == org))
        events = await uow.session.scalar(
            select(func.count()).select_from(outbox_events)
            .where(outbox_events.c.organisation_id == org))
    return int(rows or 0), int(events or 0)


async def test_event_and_row_commit_together(dbs: dict[str, Database]) -> None:
    db = dbs["registry"]
    async with db.uow() as uow:
        p = _profile("org-outbox-ok")
        uow.session.add(p)
        await uow.session.flush()
        uow.emit(Event("profile.created", "profile", p.id, 1, "org-outbox-ok", ["PE-LMA"]))
        await uow.commit()
    assert await _counts(db, "org-outbox-ok") == (1, 1)


async def test_failure_before_commit_leaves_neither(dbs: dict[str, Database]) -> None:
    db = dbs["registry"]
    with pytest.raises(Boom):
        async with db.uow() as uow:
            p = _profile("org-outbox-crash")
            uow.session.add(p)
            await uow.session.flush()
            uow.emit(Event("profile.created", "profile", p.id, 1, "org-outbox-crash"))
            raise Boom()  # e.g. the process dies between the write and the commit
    assert await _counts(db, "org-outbox-crash") == (0, 0)
