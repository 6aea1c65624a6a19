"""Registering one person: the checks beyond the schema, the rows a new person becomes
(shared with the bulk import and the synthetic seeder), and the use case itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.registry import search
from services.registry.consent_rules import consent_row, opposition
from services.registry.crypto import SensitiveCipher
from services.registry.errors import (
    REGION_OUTSIDE_SCOPE,
    REPEATED_DOCUMENT,
    SENSITIVE_CONSENT_REQUIRED,
    SENSITIVE_PERMISSION_REQUIRED,
    DuplicateDocument,
    RegionOutsideScope,
    SensitiveNotPermitted,
)
from services.registry.models import ProfileStatus
from services.registry.presenters import (
    SCALAR_FIELDS,
    SUMMARY_GROUPS,
    RowView,
    document_dict,
    dumps,
    profile_dict,
    profile_location,
)
from services.registry.repository import DuplicateKey, ProfileRepository
from services.registry.schemas.consents import ConsentPurpose, ConsentStatus
from services.registry.schemas.profiles import ProfileCreate
from services.registry.usecases.consents import ensure_known_programmes
from services.registry.usecases.finding import near_matches
from services.registry.usecases.records import audit_row, consent_event, profile_event
from services.registry.usecases.scope import reject_registered_documents, require_role
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.concurrency import etag
from shared.db import Database, UnitOfWork
from shared.errors import ValidationFailed
from shared.i18n import Text
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Permission
from shared.models import new_id
from shared.peers import Peers
from shared.regions import country_of


@dataclass
class Prepared:
    profile: dict[str, Any]
    documents: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    doc_keys: list[tuple[str, str, str]]
    sensitive: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)


def item_errors(identity: Identity, data: ProfileCreate) -> list[tuple[str, Text]]:
    """Checks of one new person beyond the schema, as field errors."""
    errors: list[tuple[str, Text]] = []
    if identity.regions and data.region not in identity.regions:
        errors.append(("region", REGION_OUTSIDE_SCOPE))
    seen: set[tuple[str, str, str]] = set()
    for i, d in enumerate(data.documents):
        key = (d.type.value, d.issuing_country or "", d.number)
        if key in seen:
            errors.append((f"documents[{i}]", REPEATED_DOCUMENT))
        seen.add(key)
    if data.sensitive is not None:
        if not identity.has(Permission.SENSITIVE_READ):
            errors.append(("sensitive", SENSITIVE_PERMISSION_REQUIRED))
        elif not any(c.purpose is ConsentPurpose.REGISTRATION and c.status == "granted"
                     and c.sensitive_data for c in data.consents):
            errors.append(("sensitive", SENSITIVE_CONSENT_REQUIRED))
    return errors


def prepare(identity: Identity, data: ProfileCreate, cipher: SensitiveCipher, now: datetime,
            *, profile_id: str | None = None) -> Prepared:
    pid = profile_id or new_id()
    fields = data.model_dump(exclude={"documents", "consents", "sensitive"})
    for k in ("sex", "population_type", "gender_identity"):
        if fields.get(k) is not None:
            fields[k] = str(fields[k])
    consents = [consent_row(pid, c, identity, now) for c in data.consents]
    opt_stats, opt_contact = opposition([RowView(c) for c in consents], now)
    sensitive = data.sensitive.model_dump(mode="json") if data.sensitive else None
    key_id, blob = cipher.encrypt(pid, sensitive) if sensitive is not None else (None, None)
    profile = {
        **fields, "id": pid, "organisation_id": identity.organisation_id,
        "country": country_of(data.region), "status": ProfileStatus.ACTIVE,
        "created_by": identity.subject, "created_at": now, "updated_at": now, "version": 1,
        "search_key": search.normalise(data.given_names, data.first_surname,
                                       data.second_surname),
        "opt_out_statistics": opt_stats, "opt_out_contact": opt_contact,
        "sensitive_ciphertext": blob, "sensitive_key_id": key_id, "merged_into": None,
        "erased_age_band": None, "erased_at": None,
    }
    documents = [{
        "id": new_id(), "profile_id": pid, "doc_type": d.type.value, "number": d.number,
        "issuing_country": d.issuing_country, "expiry_date": d.expiry_date,
        "verification": d.verification.value, "authorises_work": d.authorises_work,
        # microseconds apart, so a read lists them in the order they were given
        "created_at": now + timedelta(microseconds=i), "created_by": identity.subject,
    } for i, d in enumerate(data.documents)]
    keys = [(d.type.value, d.issuing_country or "", d.number) for d in data.documents]
    return Prepared(profile, documents, consents, keys, sensitive)


def emit_created(uow: UnitOfWork, prep: Prepared) -> None:
    """``profile.created``, and ``consent.granted`` for each grant recorded with it."""
    row = RowView(prep.profile)
    uow.emit(profile_event("profile.created", row))
    for c in prep.consents:
        if c["status"] == ConsentStatus.GRANTED:
            uow.emit(consent_event("consent.granted", row, c))


def _created_body(prep: Prepared) -> dict[str, Any]:
    row = RowView(prep.profile)
    documents = [document_dict(RowView({**d, "doc_type": d["doc_type"]}))
                 for d in prep.documents]
    body = profile_dict(row, documents, sensitive=prep.sensitive,
                        include_sensitive=prep.sensitive is not None)
    body["duplicate_candidates"] = prep.candidates
    return body


def _check_create(identity: Identity, data: ProfileCreate) -> None:
    require_role(identity, CASELOAD_ROLES)
    if identity.regions and data.region not in identity.regions:
        raise RegionOutsideScope()
    if data.sensitive is not None and not identity.has(Permission.SENSITIVE_READ):
        raise SensitiveNotPermitted()
    errors = item_errors(identity, data)
    if errors:
        raise ValidationFailed(errors)


async def create_profile(
    *, db: Database, peers: Peers, identity: Identity, data: ProfileCreate,
    cipher: SensitiveCipher, idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    _check_create(identity, data)
    await ensure_known_programmes(peers, identity, [
        (f"consents[{i}].programme_id", c.programme_id) for i, c in enumerate(data.consents)])
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        prep = prepare(identity, data, cipher, now)
        existing = await repo.find_documents(prep.doc_keys)
        if existing:
            await reject_registered_documents(repo, identity, now, existing.values())
        prep.candidates = await near_matches(
            repo, identity, now, birth=data.birth_date, nationality=data.nationality,
            key=prep.profile["search_key"], exclude=None)
        try:
            await repo.insert_many([prep.profile], prep.documents, prep.consents)
        except DuplicateKey:
            raise DuplicateDocument() from None
        pid = prep.profile["id"]
        fields = [f for f in SCALAR_FIELDS if prep.profile.get(f) is not None]
        fields += ["documents"] * bool(prep.documents) + ["consents"] * bool(prep.consents)
        fields += ["sensitive"] * (prep.sensitive is not None)
        await repo.add_audit([audit_row(identity, pid, "create", fields, now)] + [
            audit_row(identity, c["id"], "search", SUMMARY_GROUPS, now)
            for c in prep.candidates])
        emit_created(uow, prep)
        stored = await uow.remember(
            idempotency, status_code=201, body=dumps(_created_body(prep)),
            headers={"ETag": etag(1), "Location": profile_location(pid),
                     "Cache-Control": "no-store"})
        await uow.commit()
        return stored
