from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.credentials.models import Credential


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, credential_id: str) -> Credential | None:
        return await self.session.get(Credential, credential_id)

    def add(self, credential: Credential) -> None:
        self.session.add(credential)
