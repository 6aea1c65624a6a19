"""Rectification (ARCO): the fields sent change, documents are replaced, sensitive data is
set or erased."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.registry.consent_rules import covers_sensitive
from services.registry.crypto import SensitiveCipher
from services.registry.errors import (
    BAD_PHONE_FOR_REGION,
    DISTRICT_STALE,
    REPEATED_DOCUMENT,
    SENSITIVE_CONSENT_REQUIRED,
    DuplicateDocument,
    RegionOutsideScope,
    SensitiveNotPermitted,
)
from services.registry.models import IdentityDocument, Profile
from services.registry.presenters import SCALAR_FIELDS, dumps
from services.registry.repository import ProfileRepository
from services.registry.schemas.common import check_district, normalise_phone
from services.registry.schemas.profiles import ProfileUpdate, SensitiveData
from services.registry.usecases.records import (
    audit_row,
    present_profile,
    profile_event,
    recorded_event,
)
from services.registry.usecases.scope import (
    load_visible,
    reject_registered_documents,
    require_role,
)
from services.registry.worklist import document_key, resolve
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion
from shared.db import Database
from shared.errors import ValidationFailed
from shared.identity import Identity, Permission
from shared.models import new_id
from shared.regions import country_of

DocKey = tuple[str, str, str | None]


async def update_profile(
    *, db: Database, identity: Identity, profile_id: str, data: ProfileUpdate,
    expected: ExpectedVersion, cipher: SensitiveCipher,
) -> tuple[bytes, int]:
    require_role(identity, CASELOAD_ROLES)
    sent = data.model_fields_set
    if "region" in sent and identity.regions and data.region not in identity.regions:
        raise RegionOutsideScope()
    if "sensitive" in sent and not identity.has(Permission.SENSITIVE_READ):
        raise SensitiveNotPermitted()
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, access = await load_visible(repo, identity, profile_id, now, owner_only=True)
        expected.check(p.version)
        changed = _set_fields(p, data)
        recorded: list[IdentityDocument] = []
        if "documents" in sent and data.documents is not None \
                and await _replace_documents(repo, identity, p, data, now, recorded):
            changed.append("documents")
        sensitive_changed = False
        if "sensitive" in sent:
            sensitive_changed = await _set_sensitive(repo, p, data.sensitive, cipher, now)
        if changed or sensitive_changed:
            p.updated_at = now  # documents or sensitive alone still make a new version
            try:
                await uow.session.flush()
            except IntegrityError:
                raise DuplicateDocument() from None
            public = [f for f in changed if f != "sensitive"]
            if public:
                uow.emit(profile_event("profile.updated", p, {"changed_fields": sorted(public)}))
            for doc in recorded:
                uow.emit(recorded_event("document.recorded", p, doc))
        await repo.add_audit([audit_row(identity, p.id, "update",
                                        changed + ["sensitive"] * sensitive_changed, now)])
        body = await present_profile(repo, cipher, p, include_sensitive=access.sensitive)
        await uow.commit()
    return dumps(body), p.version


def _set_fields(p: Profile, data: ProfileUpdate) -> list[str]:
    """The scalar fields sent that differ, set on ``p``; their names."""
    sent = data.model_fields_set
    changed: list[str] = []
    if "phone" in sent and data.phone is not None:
        try:  # a national number is read in the region the profile will be in
            data.phone = normalise_phone(data.phone, data.region or p.region)
        except ValueError:
            raise ValidationFailed([("phone", BAD_PHONE_FOR_REGION)]) from None
    for name in SCALAR_FIELDS:
        if name in sent:
            value = getattr(data, name)
            value = str(value) if hasattr(value, "value") else value
            if isinstance(value, list):  # a JSON column keeps plain values
                value = [v.model_dump() if hasattr(v, "model_dump") else v for v in value]
            if getattr(p, name) != value:
                setattr(p, name, value)
                changed.append(name)
    if "region" in changed:
        p.country = country_of(p.region)
        if "district" not in sent and p.district:
            try:
                check_district(p.region, p.district)
            except ValueError:
                raise ValidationFailed([("district", DISTRICT_STALE)]) from None
    return changed


def _wanted_documents(data: ProfileUpdate) -> dict[DocKey, Any]:
    assert data.documents is not None
    wanted: dict[DocKey, Any] = {}
    for i, d in enumerate(data.documents):
        key = (d.type.value, d.issuing_country or "", d.number)
        if key in wanted:
            raise ValidationFailed([(f"documents[{i}]", REPEATED_DOCUMENT)])
        wanted[key] = d
    return wanted


async def _replace_documents(repo: ProfileRepository, identity: Identity, p: Profile,
                             data: ProfileUpdate, now: datetime,
                             recorded: list[IdentityDocument]) -> bool:
    """Make the profile's documents the ones sent; ``recorded`` gets the documents added and
    those whose expiry date changed (``document.recorded``), and the worklist items of the
    documents removed or re-dated are resolved (the watch starts afresh on the new date)."""
    current = await repo.documents_of([p.id])
    by_key: dict[DocKey, Any] = {
        (d.doc_type, d.issuing_country, d.number): d for d in current}
    wanted = _wanted_documents(data)
    new_keys = [(k[0], k[1], k[2] or "") for k in wanted if k not in by_key]
    existing = await repo.find_documents(new_keys)
    others = [owner for owner in existing.values() if owner[0] != p.id]
    if others:
        await reject_registered_documents(repo, identity, now, others[:1])
    changed = False
    for have, doc in by_key.items():
        if have not in wanted:
            await resolve(repo.session, [document_key(doc.id, doc.expiry_date)], now)
            await repo.session.delete(doc)
            changed = True
            continue
        new = wanted[have]
        if new.expiry_date != doc.expiry_date:
            await resolve(repo.session, [document_key(doc.id, doc.expiry_date)], now)
            recorded.append(doc)
        for attr, value in (("expiry_date", new.expiry_date),
                            ("verification", new.verification.value),
                            ("authorises_work", new.authorises_work)):
            if getattr(doc, attr) != value:
                setattr(doc, attr, value)
                changed = True
    if by_key.keys() - wanted.keys():
        await repo.session.flush()  # free the numbers before re-adding any
    for nk in new_keys:
        d = wanted[nk]
        added = IdentityDocument(
            id=new_id(), profile_id=p.id, doc_type=nk[0], number=nk[2], issuing_country=nk[1],
            expiry_date=d.expiry_date, verification=d.verification.value,
            authorises_work=d.authorises_work, created_at=now, created_by=identity.subject)
        repo.session.add(added)
        recorded.append(added)
        changed = True
    return changed


async def _set_sensitive(repo: ProfileRepository, p: Profile, value: SensitiveData | None,
                         cipher: SensitiveCipher, now: datetime) -> bool:
    if value is None:
        if p.sensitive_ciphertext is None:
            return False
        p.sensitive_ciphertext = None
        p.sensitive_key_id = None
        return True
    if not covers_sensitive(await repo.consents_of(p.id), now):
        raise ValidationFailed([("sensitive", SENSITIVE_CONSENT_REQUIRED)])
    p.sensitive_key_id, p.sensitive_ciphertext = cipher.encrypt(
        p.id, value.model_dump(mode="json"))
    return True
