"""Every query of the credentials service. Never commits: the use case owns the transaction."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.credentials.lifecycle import Status
from services.credentials.models import (
    Credential,
    CredentialTransition,
    StatusEntry,
    StatusList,
    VcIssuance,
)
from services.credentials.status_list import FILL_LIMIT, LIST_SIZE, Purpose
from shared.clock import utcnow
from shared.errors import ServiceUnavailable

# Which credential states set the bit of each status purpose. A credential rejected after it
# was verified (and perhaps exported) is as good as revoked for a verifier.
FLAGGED: dict[Purpose, tuple[str, ...]] = {
    Purpose.REVOCATION: (Status.REVOKED.value, Status.REJECTED.value),
    Purpose.SUSPENSION: (Status.SUSPENDED.value,),
}


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, credential_id: str) -> Credential | None:
        credential = await self.session.get(Credential, credential_id)
        if credential is None or credential.erased_at is not None:
            return None
        return credential

    def add(self, credential: Credential) -> None:
        self.session.add(credential)

    def add_transition(self, transition: CredentialTransition) -> None:
        self.session.add(transition)

    async def history(self, credential_id: str) -> list[CredentialTransition]:
        rows = await self.session.scalars(
            select(CredentialTransition).where(CredentialTransition.credential_id == credential_id)
            .order_by(CredentialTransition.id))
        return list(rows.all())

    async def owner_of_profile(self, profile_id: str) -> tuple[str, str | None] | None:
        """(organisation, region) the profile's credentials were filed under, if any."""
        row = (await self.session.execute(
            select(Credential.organisation_id, Credential.region)
            .where(Credential.profile_id == profile_id, Credential.erased_at.is_(None))
            .limit(1))).first()
        return (row[0], row[1]) if row is not None else None

    async def list(
        self, *, scope: ColumnElement[bool], profile_id: str | None, kind: str | None,
        status: str | None, after: str | None, limit: int,
    ) -> list[Credential]:
        """``scope``: what the caller may see, as SQL (``access.list_scope``)."""
        q = select(Credential).where(Credential.erased_at.is_(None), scope)
        if profile_id is not None:
            q = q.where(Credential.profile_id == profile_id)
        if kind is not None:
            q = q.where(Credential.kind == kind)
        if status is not None:
            q = q.where(Credential.status == status)
        if after is not None:
            q = q.where(Credential.id > after)
        return list((await self.session.scalars(q.order_by(Credential.id).limit(limit))).all())

    async def erase_profile(self, profile_id: str) -> int:
        """Empty the personal fields of a person's credentials; keep what counts need."""
        now = utcnow()
        ids = list((await self.session.scalars(
            select(Credential.id).where(Credential.profile_id == profile_id))).all())
        if not ids:
            return 0
        await self.session.execute(
            update(Credential).where(Credential.id.in_(ids)).values(
                title=None, level=None, issuer_name=None, issuer_identifier=None,
                issued_on=None, expires_on=None, evidence=[],
                competency_standard_name=None, certifying_body=None, assessment_date=None,
                training_hours=None, recognition_resolution=None, recognition_date=None,
                erased_at=func.coalesce(Credential.erased_at, now),
                version=Credential.version + 1, updated_at=now,
            ).execution_options(synchronize_session=False))
        await self.session.execute(
            update(CredentialTransition).where(CredentialTransition.credential_id.in_(ids))
            .values(reason=None, details={}).execution_options(synchronize_session=False))
        return len(ids)

    async def move_profile(self, from_profile_id: str, to_profile_id: str) -> int:
        result = await self.session.execute(
            update(Credential).where(Credential.profile_id == from_profile_id)
            .values(profile_id=to_profile_id).execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)

    async def move_profile_region(self, profile_id: str, region: str) -> int:
        result = await self.session.execute(
            update(Credential).where(Credential.profile_id == profile_id,
                                     Credential.region != region)
            .values(region=region).execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)


class StatusRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def slot_of(self, credential_id: str) -> StatusEntry:
        """The credential's status list entry, taken at a random free index on first use."""
        for _ in range(16):
            existing = await self.session.get(StatusEntry, credential_id)
            if existing is not None:
                return existing
            status_list = await self._open_list()
            position = secrets.randbelow(status_list.size)
            taken = await self.session.scalar(
                select(StatusEntry.credential_id).where(StatusEntry.list_id == status_list.id,
                                                        StatusEntry.position == position))
            if taken is not None:
                continue
            entry = StatusEntry(credential_id=credential_id, list_id=status_list.id,
                                position=position)
            try:
                async with self.session.begin_nested():
                    self.session.add(entry)
                    await self.session.flush()
            except IntegrityError:
                continue  # a concurrent export took the slot (or this credential's entry)
            return entry
        raise ServiceUnavailable()

    async def _open_list(self) -> StatusList:
        """The list new entries go to. Lists are opened one at a time (an advisory lock on
        PostgreSQL; SQLite has a single writer), so concurrent first exports share one list:
        the larger the list's crowd, the less a fetch of it says about who is verified."""
        found = await self._latest_open()
        if found is not None:
            return found
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('ruta.credentials.status_lists'))"))
            found = await self._latest_open()
            if found is not None:
                return found
        fresh = StatusList(id=str(uuid.uuid4()), size=LIST_SIZE, created_at=utcnow())
        self.session.add(fresh)
        await self.session.flush()
        return fresh

    async def _latest_open(self) -> StatusList | None:
        latest = await self.session.scalar(
            select(StatusList).order_by(StatusList.created_at.desc(), StatusList.id).limit(1))
        if latest is None:
            return None
        used = await self.session.scalar(
            select(func.count()).select_from(StatusEntry).where(StatusEntry.list_id == latest.id))
        return latest if int(used or 0) < FILL_LIMIT else None

    async def get_list(self, list_id: str) -> StatusList | None:
        return await self.session.get(StatusList, list_id)

    async def flagged_positions(self, list_id: str, purpose: Purpose) -> list[int]:
        rows = await self.session.scalars(
            select(StatusEntry.position).join(Credential,
                                              Credential.id == StatusEntry.credential_id)
            .where(StatusEntry.list_id == list_id, Credential.status.in_(FLAGGED[purpose])))
        return list(rows.all())

    async def status_at(self, list_id: str, position: int) -> str | None:
        return await self.session.scalar(
            select(Credential.status).join(StatusEntry,
                                           Credential.id == StatusEntry.credential_id)
            .where(StatusEntry.list_id == list_id, StatusEntry.position == position))

    def add_issuance(self, issuance: VcIssuance) -> None:
        self.session.add(issuance)
