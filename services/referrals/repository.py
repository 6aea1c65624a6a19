from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.referrals.models import Programme


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(
        self, *, country: str | None, route_type: str | None, after: str | None, limit: int
    ) -> list[Programme]:
        q = select(Programme).where(Programme.active.is_(True))
        if country:
            q = q.where(Programme.country == country)
        if route_type:
            q = q.where(Programme.route_type == route_type)
        if after:
            q = q.where(Programme.id > after)
        return list((await self.session.scalars(q.order_by(Programme.id).limit(limit))).all())

    async def existing_ids(self) -> set[str]:
        return set((await self.session.scalars(select(Programme.id))).all())

    def add(self, programme: Programme) -> None:
        self.session.add(programme)
