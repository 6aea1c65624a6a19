"""Every query of the registry. Never commits: the use case owns the transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Profile


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, profile_id: str) -> Profile | None:
        return await self.session.get(Profile, profile_id)

    def add(self, profile: Profile) -> None:
        self.session.add(profile)

    async def list_visible(
        self, *, organisation_id: str, regions: frozenset[str], after: str | None, limit: int
    ) -> list[Profile]:
        q = select(Profile).where(Profile.organisation_id == organisation_id,
                                  Profile.status == "active")
        if regions:
            q = q.where(Profile.region.in_(sorted(regions)))
        if after:
            q = q.where(Profile.id > after)
        q = q.order_by(Profile.id).limit(limit)
        return list((await self.session.scalars(q)).all())
