"""Status list slots under concurrency (committing databases, PostgreSQL semantics)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import delete, func, select

from services.credentials.models import Credential, StatusEntry, StatusList
from services.credentials.repository import StatusRepository
from shared.db import Database

pytestmark = pytest.mark.postgres_only


async def _make_credentials(db: Database, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    async with db.uow() as uow:
        for cid in ids:
            uow.session.add(Credential(id=cid, profile_id=str(uuid.uuid4()),
                                       organisation_id="ong-conc", region="PE-LMA",
                                       kind="academic_degree", title="T",
                                       status="recognised", created_by="test"))
        await uow.commit()
    return ids


async def _slot(db: Database, credential_id: str) -> tuple[str, int]:
    async with db.uow() as uow:
        entry = await StatusRepository(uow.session).slot_of(credential_id)
        result = (entry.list_id, entry.position)
        await uow.commit()
    return result


async def _cleanup(db: Database, ids: list[str]) -> None:
    async with db.uow() as uow:
        await uow.session.execute(delete(StatusEntry).where(StatusEntry.credential_id.in_(ids)))
        await uow.session.execute(delete(Credential).where(Credential.id.in_(ids)))
        used = select(StatusEntry.list_id).distinct()
        await uow.session.execute(delete(StatusList).where(StatusList.id.not_in(used)))
        await uow.commit()


async def test_concurrent_exports_of_one_credential_share_one_slot(
    root_dbs: dict[str, Database]
) -> None:
    db = root_dbs["credentials"]
    ids = await _make_credentials(db, 1)
    try:
        slots = await asyncio.gather(*(_slot(db, ids[0]) for _ in range(8)))
        assert len(set(slots)) == 1
        async with db.uow() as uow:
            count = await uow.session.scalar(select(func.count()).select_from(StatusEntry)
                                             .where(StatusEntry.credential_id == ids[0]))
        assert count == 1
    finally:
        await _cleanup(db, ids)


async def test_concurrent_exports_of_many_credentials_get_distinct_slots(
    root_dbs: dict[str, Database]
) -> None:
    db = root_dbs["credentials"]
    ids = await _make_credentials(db, 24)
    try:
        slots = await asyncio.gather(*(_slot(db, cid) for cid in ids))
        assert len(set(slots)) == len(ids)
        assert len({list_id for list_id, _ in slots}) == 1  # one crowd, not 24 lists
    finally:
        await _cleanup(db, ids)
