"""The verification lifecycle of a credential: seen, apostilled, verified, recognised,
rejected, suspended, reinstated, revoked — each move recorded with who, when and why."""

from __future__ import annotations

from typing import Any

import structlog

from services.credentials.access import (
    RECOGNISING_ROLES,
    RECOGNITION_DECISIONS,
    load_visible,
    recognition_decision,
    require_authority,
    require_recognition_authority,
)
from services.credentials.clients import Catalogue, Registry
from services.credentials.errors import (
    CredentialNotFound,
    RecognitionNotApplicable,
    UnknownRecognisingAuthority,
)
from services.credentials.lifecycle import Action, Status, next_status
from services.credentials.models import Credential
from services.credentials.repository import CredentialRepository
from services.credentials.responses import CredentialOut
from services.credentials.schemas import CredentialKind, TransitionIn
from services.credentials.usecases.trail import credential_event, transition_record
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, UnitOfWork
from shared.errors import Forbidden
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Role
from shared.peers import Peers

log = structlog.get_logger("ruta.credentials")

RECOGNISABLE_KINDS = {CredentialKind.ACADEMIC_DEGREE, CredentialKind.PROFESSIONAL_LICENCE}


async def transition_credential(
    *, db: Database, peers: Peers, identity: Identity, credential_id: str, data: TransitionIn,
    expected: ExpectedVersion | None, authority: bool = False,
    idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    """Move a credential along its verification lifecycle, recording who, when and why.

    ``authority=False`` (the public route): the caseload of the credential, If-Match required;
    besides, a provider or ministry client of the recognising organisation, or an admin,
    suspending or revoking a recognition (nothing else: 403).
    ``authority=True`` (inbound ministry decisions): a ministry or system identity, authority
    actions only, no organisation scope, If-Match honoured when given.
    Either way, suspending or revoking a recognition is the recognising authority's alone
    (403 ``recognition-authority-required`` for anyone else, the caseload included).
    With an Idempotency-Key a retried request replays the first answer (a retried inbound
    callback must not turn into a 409 because its first attempt already applied).
    """
    caseload = not authority and identity.role in CASELOAD_ROLES \
        and identity.organisation_id is not None
    if authority:
        require_authority(identity, data.action)
    elif caseload:
        if expected is None:  # pragma: no cover - the route always parses If-Match
            raise Forbidden()
        await load_visible(db=db, registry=Registry(peers), identity=identity,
                           credential_id=credential_id)
    elif data.action not in RECOGNITION_DECISIONS \
            or identity.role not in RECOGNISING_ROLES | {Role.ADMIN}:
        raise Forbidden()
    recognised_by = await _recognising_organisation(peers, identity, data, authority=authority)

    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        credential = await CredentialRepository(uow.session).get(credential_id)
        if credential is None:
            # a caller outside the caseload learns nothing about which ids exist
            raise CredentialNotFound() if authority or caseload else Forbidden()
        if not (authority or caseload or recognition_decision(credential, data.action)):
            raise Forbidden()
        require_recognition_authority(identity, credential, data.action)
        if expected is not None:
            expected.check(credential.version)
        if recognised_by is not None:
            credential.recognising_organisation_id = recognised_by
        target = await _move(uow, credential, data, identity)
        out = CredentialOut.of(credential)
        stored = await uow.remember(idempotency, status_code=200,
                                    body=out.model_dump(mode="json"),
                                    headers={"ETag": etag(credential.version)})
        await uow.commit()
    log.info("credential_transition", credential_id=credential_id, action=data.action.value,
             to=target.value, actor_role=identity.role.value)
    return stored


async def _recognising_organisation(peers: Peers, identity: Identity, data: TransitionIn,
                                    *, authority: bool) -> str | None:
    """For ``recognise``: the organisation that recognises. A signed callback or ministry
    system speaks for its own organisation; a caseworker recording a resolution names the
    authority by its code, which the referrals catalogue must know as the organisation of a
    degree-recognition provider (422 on ``recognition.body`` otherwise; 503 when the
    catalogue cannot be asked). None for any other action."""
    if data.action is not Action.RECOGNISE or data.recognition is None:
        return None
    if authority and identity.organisation_id is not None:
        return identity.organisation_id
    found = await Catalogue(peers).recognising_organisation(identity, data.recognition.body)
    if found is None:
        raise UnknownRecognisingAuthority()
    return found


async def _move(uow: UnitOfWork, credential: Credential, data: TransitionIn,
                identity: Identity) -> Status:
    """Apply ``data`` to the credential (409 if its state does not allow it), record the
    transition and queue its events. Returns the new state."""
    action = data.action
    current = Status(credential.status)
    suspended_from = Status(credential.suspended_from) if credential.suspended_from else None
    target = next_status(current, action, suspended_from=suspended_from)
    if action is Action.RECOGNISE and credential.kind not in RECOGNISABLE_KINDS:
        raise RecognitionNotApplicable()

    now = utcnow()
    details: dict[str, Any] = {}
    if data.recognition is not None:
        rec = data.recognition
        credential.recognition_body = rec.body
        credential.recognition_resolution = rec.resolution_number
        credential.recognition_date = rec.resolution_date
        details["recognition"] = rec.model_dump(mode="json")
    if action is Action.APOSTILLE:
        details["legalisation"] = data.legalisation or "apostille"
    credential.suspended_from = current.value if target is Status.SUSPENDED else None
    credential.status = target.value
    credential.status_changed_at = now
    await uow.session.flush()  # bumps the version (optimistic check against the row)
    CredentialRepository(uow.session).add_transition(transition_record(
        credential, action=action.value, from_status=current.value, to_status=target.value,
        identity=identity, reason=data.reason, details=details, now=now))
    # the kind and ISCED field are classification codes, not personal data: consumers
    # (a pathway's recognition step) need them to know which credential moved
    change = {"from": current.value, "to": target.value, "action": action.value,
              "kind": credential.kind, "field_isced": credential.field_isced}
    uow.emit(credential_event("credential.status_changed", credential, change))
    if target is Status.REVOKED:
        uow.emit(credential_event("credential.revoked", credential, change))
    return target
