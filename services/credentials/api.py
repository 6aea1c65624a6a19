from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.credentials import service
from services.credentials.schemas import CredentialCreate, CredentialOut
from shared.concurrency import etag
from shared.errors import problem_responses
from shared.http import DbDep, Idempotency, respond
from shared.identity import CurrentIdentity

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])

CredentialId = Annotated[str, Path(max_length=64)]


@router.post("", status_code=201, response_model=CredentialOut,
             responses=problem_responses(401, 403, 409, 422), summary="Add a credential")
async def create_credential(
    data: CredentialCreate, identity: CurrentIdentity, db: DbDep, idempotency: Idempotency
) -> Response:
    return respond(await service.create_credential(db=db, identity=identity, data=data,
                                                   idempotency=idempotency))


@router.get("/{credential_id}", response_model=CredentialOut,
            responses=problem_responses(401, 404), summary="Read a credential")
async def get_credential(
    credential_id: CredentialId, identity: CurrentIdentity, db: DbDep, response: Response
) -> CredentialOut:
    credential = await service.get_credential(db=db, identity=identity,
                                              credential_id=credential_id)
    response.headers["ETag"] = etag(credential.version)
    return credential
