"""What the issuer signs: a credential exported as a verifiable credential, the status lists
its verifiers fetch, and the issuer's public documents and keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog

from services.credentials import vc
from services.credentials.access import load_visible, require_caseload
from services.credentials.clients import SHARING_PURPOSE, ConsentAnswer, ProfileRef, Registry
from services.credentials.errors import (
    ConsentRequired,
    CredentialExpired,
    CredentialNotFound,
    CredentialNotVouched,
    StatusListNotFound,
)
from services.credentials.keys import IssuerKeys
from services.credentials.lifecycle import VOUCHED, Status
from services.credentials.models import Credential, VcIssuance
from services.credentials.repository import CredentialRepository, StatusRepository
from services.credentials.status_list import Purpose, encode, status_list_credential, xml_datetime
from services.credentials.subject import SubjectDisclosure, identity_object, new_salt
from shared.clock import utcnow
from shared.crypto import Sealer
from shared.db import Database
from shared.identity import Identity
from shared.peers import Peers
from shared.settings import Settings

log = structlog.get_logger("ruta.credentials")


@dataclass(frozen=True, slots=True)
class ExportedVc:
    token: str
    # The salt of the holder's identity hash, for the holder only (None: clear name).
    salt: str | None


async def export_vc(*, db: Database, peers: Peers, settings: Settings, identity: Identity,
                    credential_id: str,
                    disclosure: SubjectDisclosure = SubjectDisclosure.HASH) -> ExportedVc:
    """The credential as a signed VC (compact JWS), for a credential we vouch for and a person
    who consented to share it. Each export is recorded (who, when, which key, how the holder
    was named). The holder is a salted hash of name and birth date, with a new salt per
    export, unless the person asked for their clear name (``disclosure=NAME``)."""
    require_caseload(identity)
    holder, consent = await _consented_holder(db=db, registry=Registry(peers),
                                              identity=identity, credential_id=credential_id)
    assert holder.full_name is not None  # _consented_holder refuses a nameless profile
    salt = new_salt() if disclosure is SubjectDisclosure.HASH else None
    async with db.uow() as uow:
        credential = await CredentialRepository(uow.session).get(credential_id)
        if credential is None:
            raise CredentialNotFound()
        _ensure_exportable(credential)  # it may have moved since the first read
        key = await IssuerKeys(uow.session, Sealer.from_settings(settings)).active()
        statuses = StatusRepository(uow.session)
        slot = await statuses.slot_of(credential.id)
        now = utcnow()
        issuance = VcIssuance(id=str(uuid.uuid4()), credential_id=credential.id, kid=key.kid,
                              issued_by=identity.subject, issued_at=now,
                              valid_until=vc.valid_until_of(credential),
                              subject_disclosure=disclosure.value)
        statuses.add_issuance(issuance)
        claims = vc.build_credential(
            credential=credential,
            holder=identity_object(holder.full_name, holder.birth_date, salt), vc_id=issuance.id,
            issued_at=now, base_url=settings.public_base_url, status_list_id=slot.list_id,
            status_position=slot.position)
        token = vc.sign(claims, key)
        await uow.commit()
    log.info("vc_exported", credential_id=credential_id, kid=key.kid,
             consent_id=consent.consent_id, subject=disclosure.value)
    return ExportedVc(token=token, salt=salt)


async def _consented_holder(*, db: Database, registry: Registry, identity: Identity,
                            credential_id: str) -> tuple[ProfileRef, ConsentAnswer]:
    """The holder's profile (name, birth date) and their consent to share credentials, once
    the caller may see the credential and it may be exported (404, 409 otherwise)."""
    snapshot, profile = await load_visible(db=db, registry=registry, identity=identity,
                                           credential_id=credential_id)
    _ensure_exportable(snapshot)
    if profile is None:
        profile = await registry.profile(identity, snapshot.profile_id)
    if profile is None or not profile.full_name:
        raise CredentialNotFound()
    consent = await registry.consent(identity, snapshot.profile_id, SHARING_PURPOSE)
    if consent is None:
        raise CredentialNotFound()
    if not consent.granted:
        raise ConsentRequired()
    return profile, consent


def _ensure_exportable(credential: Credential) -> None:
    if Status(credential.status) not in VOUCHED:
        raise CredentialNotVouched(status=credential.status)
    if credential.expires_on is not None and credential.expires_on < date.today():
        raise CredentialExpired(expires_on=credential.expires_on.isoformat())


async def status_list(*, db: Database, settings: Settings, list_id: str, purpose: Purpose,
                      signed: bool = True) -> str | dict[str, Any]:
    """The BitstringStatusListCredential of one list and purpose, signed as vc+jwt."""
    async with db.uow() as uow:
        statuses = StatusRepository(uow.session)
        found = await statuses.get_list(list_id)
        if found is None:
            raise StatusListNotFound()
        encoded = encode(await statuses.flagged_positions(list_id, purpose), found.size)
        claims = status_list_credential(
            url=vc.status_list_url(settings.public_base_url, list_id, purpose),
            issuer=vc.issuer_id(settings.public_base_url), purpose=purpose, encoded=encoded,
            valid_from=xml_datetime(utcnow()))
        if not signed:
            return claims
        key = await IssuerKeys(uow.session, Sealer.from_settings(settings)).active()
        token = vc.sign(claims, key)
        await uow.commit()  # a first key may have been made
        return token


async def issuer_jwks(*, db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.uow() as uow:
        return {"keys": await IssuerKeys(uow.session).all_public()}


async def issuer_profile(*, db: Database, settings: Settings) -> dict[str, Any]:
    async with db.uow() as uow:
        keys = await IssuerKeys(uow.session).all_public()
    return vc.issuer_profile(settings.public_base_url, keys)


async def rotate_issuer_key(*, db: Database, settings: Settings) -> str:
    """Make a new signing key; the previous ones stop signing but keep verifying."""
    async with db.uow() as uow:
        kid = await IssuerKeys(uow.session, Sealer.from_settings(settings)).rotate()
        await uow.commit()
    log.info("issuer_key_rotated", kid=kid)
    return kid
