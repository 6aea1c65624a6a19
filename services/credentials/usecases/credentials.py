"""A person's credentials: add one (self-declared), read it, its history, list them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.credentials.access import (
    list_scope,
    load_visible,
    require_caseload,
    require_reader,
)
from services.credentials.clients import ProfileRef, Registry
from services.credentials.errors import ProfileNotFound
from services.credentials.lifecycle import Status
from services.credentials.models import Credential
from services.credentials.repository import CredentialRepository
from services.credentials.responses import CredentialOut, HistoryOut, TransitionOut
from services.credentials.schemas import CredentialCreate
from services.credentials.usecases.trail import credential_event, transition_record
from shared.clock import utcnow
from shared.concurrency import etag
from shared.db import Database
from shared.errors import Forbidden
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Role
from shared.pagination import CursorCodec, Page
from shared.peers import Peers


def _location(credential_id: str) -> str:
    return f"/v1/credentials/{credential_id}"


def _new_credential(data: CredentialCreate, profile: ProfileRef, identity: Identity,
                    now: datetime) -> Credential:
    """A self-declared credential, filed under the profile's organisation and region."""
    issuer, skills, training = data.issuer, data.skills_certification, data.training
    return Credential(
        id=str(uuid.uuid4()), profile_id=profile.id,
        organisation_id=profile.organisation_id, region=profile.region,
        kind=data.kind.value, title=data.title, status=Status.SELF_DECLARED.value,
        created_by=identity.subject, field_isced=data.field_isced,
        occupation_isco=data.occupation_isco, level=data.level, language=data.language,
        issuer_name=issuer.name if issuer else None,
        issuer_country=issuer.country if issuer else None,
        issuer_identifier=issuer.identifier if issuer else None,
        issued_on=data.issued_on, expires_on=data.expires_on,
        evidence=[e.model_dump(mode="json") for e in data.evidence],
        competency_standard_code=skills.competency_standard_code if skills else None,
        competency_standard_name=skills.competency_standard_name if skills else None,
        certifying_body=skills.certifying_body if skills else None,
        assessment_date=skills.assessment_date if skills else None,
        training_module=training.module.value if training else None,
        training_hours=training.hours if training else None,
        status_changed_at=now,
    )


async def create_credential(
    *, db: Database, peers: Peers, identity: Identity, data: CredentialCreate,
    idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    require_caseload(identity)
    # Asked before the transaction opens: no write lock is held while the registry answers.
    profile = await Registry(peers).profile(identity, data.profile_id)
    if profile is None:
        raise ProfileNotFound()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        now = utcnow()
        credential = _new_credential(data, profile, identity, now)
        repo = CredentialRepository(uow.session)
        repo.add(credential)
        await uow.session.flush()
        repo.add_transition(transition_record(
            credential, action="declare", from_status=None, to_status=credential.status,
            identity=identity, reason=None, details={}, now=now))
        uow.emit(credential_event("credential.created", credential))
        out = CredentialOut.of(credential)
        stored = await uow.remember(
            idempotency, status_code=201, body=out.model_dump(mode="json"),
            headers={"ETag": etag(credential.version), "Location": _location(credential.id)})
        await uow.commit()
        return stored


async def get_credential(*, db: Database, peers: Peers, identity: Identity,
                         credential_id: str) -> CredentialOut:
    require_reader(identity)
    credential, _ = await load_visible(db=db, registry=Registry(peers), identity=identity,
                                       credential_id=credential_id)
    return CredentialOut.of(credential)


async def credential_history(*, db: Database, peers: Peers, identity: Identity,
                             credential_id: str) -> HistoryOut:
    require_reader(identity)
    await load_visible(db=db, registry=Registry(peers), identity=identity,
                       credential_id=credential_id)
    async with db.uow() as uow:
        rows = await CredentialRepository(uow.session).history(credential_id)
        items = [TransitionOut.model_validate(t) for t in rows]
    return HistoryOut(credential_id=credential_id, items=items)


async def list_credentials(
    *, db: Database, peers: Peers, identity: Identity, cursors: CursorCodec,
    profile_id: str | None, kind: str | None, status: str | None, limit: int,
    cursor: str | None,
) -> Page[CredentialOut]:
    """A person's credentials by kind and state (what recommendations ask), or the caller's
    organisation's caseload. Out of scope is an empty page, never a 404 that would confirm
    the person exists."""
    require_reader(identity)
    filters = {"profile_id": profile_id, "kind": kind, "status": status}
    after = (cursors.decode(cursor, "credentials", filters, caller=identity)[0] if cursor
             else None)
    scope = await list_scope(db=db, registry=Registry(peers), identity=identity,
                             profile_id=profile_id)
    if scope is None:
        return Page(items=[], next_cursor=None)
    async with db.uow() as uow:
        rows = await CredentialRepository(uow.session).list(
            scope=scope, profile_id=profile_id, kind=kind, status=status, after=after,
            limit=limit + 1)
        items = [CredentialOut.of(c) for c in rows[:limit]]
    nxt = (cursors.encode("credentials", filters, [items[-1].id], caller=identity)
           if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def facts_of_profile(*, db: Database, identity: Identity, profile_id: str
                           ) -> list[dict[str, Any]]:
    """What job matching reads of a person's credentials (system identity only): the state
    and classification of each, nothing that identifies the holder or the document."""
    if identity.role is not Role.SYSTEM:
        raise Forbidden()
    async with db.uow() as uow:
        rows = (await uow.session.scalars(select(Credential).where(
            Credential.profile_id == profile_id).order_by(Credential.id))).all()
    return [{"id": c.id, "kind": c.kind, "status": c.status, "field_isced": c.field_isced,
             "occupation_isco": c.occupation_isco, "issuer_country": c.issuer_country,
             "expires_on": c.expires_on.isoformat() if c.expires_on else None}
            for c in rows]
