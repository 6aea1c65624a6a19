from __future__ import annotations

from services.credentials.models import Credential
from services.credentials.repository import CredentialRepository
from services.credentials.schemas import CredentialCreate, CredentialOut
from shared.authz import CASELOAD_ROLES, ensure_in_scope
from shared.concurrency import etag
from shared.db import Database, Event, IdempotencyKey, StoredResponse
from shared.errors import Forbidden, NotFound
from shared.i18n import Text
from shared.identity import Identity


class CredentialNotFound(NotFound):
    code = "credential-not-found"
    detail_text = Text("La credencial no existe o no está a su alcance.",
                       "The credential does not exist or is outside your scope.")


async def create_credential(
    *, db: Database, identity: Identity, data: CredentialCreate,
    idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
        raise Forbidden()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        credential = Credential(organisation_id=identity.organisation_id,
                                created_by=identity.subject, status="self_declared",
                                **data.model_dump())
        CredentialRepository(uow.session).add(credential)
        await uow.session.flush()
        uow.emit(Event(type="credential.created", subject_type="credential",
                       subject_id=credential.id, subject_version=credential.version,
                       organisation_id=credential.organisation_id))
        out = CredentialOut.model_validate(credential)
        stored = await uow.remember(
            idempotency, status_code=201, body=out.model_dump(mode="json"),
            headers={"ETag": etag(credential.version),
                     "Location": f"/v1/credentials/{credential.id}"})
        await uow.commit()
        return stored


async def get_credential(*, db: Database, identity: Identity, credential_id: str) -> CredentialOut:
    async with db.uow() as uow:
        credential = await CredentialRepository(uow.session).get(credential_id)
        if credential is None:
            raise CredentialNotFound()
        ensure_in_scope(identity, organisation_id=credential.organisation_id,
                        region=credential.region, not_found=CredentialNotFound)
        return CredentialOut.model_validate(credential)
