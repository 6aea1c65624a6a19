"""Queries of organisations and machine clients."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Client, Organisation


class IdentityRepository:
    """Organisations and machine clients. Runs queries; the use case commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def organisation(self, organisation_id: str) -> Organisation | None:
        return await self.session.get(Organisation, organisation_id)

    async def organisations(self, *, after: str | None, limit: int) -> list[Organisation]:
        q = select(Organisation).order_by(Organisation.id).limit(limit)
        if after:
            q = q.where(Organisation.id > after)
        return list((await self.session.scalars(q)).all())

    async def client(self, client_id: str) -> Client | None:
        return await self.session.get(Client, client_id)

    async def clients(self, *, organisation_id: str | None, after: str | None, limit: int
                      ) -> list[Client]:
        q = select(Client).order_by(Client.id).limit(limit)
        if organisation_id:
            q = q.where(Client.organisation_id == organisation_id)
        if after:
            q = q.where(Client.id > after)
        return list((await self.session.scalars(q)).all())

    def add(self, obj: object) -> None:
        self.session.add(obj)
