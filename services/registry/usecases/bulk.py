"""NGO batches: up to 1,000 people in one transaction, each judged on its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.registry.access import access_of
from services.registry.clients import unknown_programmes
from services.registry.crypto import SensitiveCipher
from services.registry.errors import PHONE_DROPPED, UNKNOWN_PROGRAMME, BatchConflict
from services.registry.models import ProfileStatus
from services.registry.presenters import SCALAR_FIELDS, RowView, dumps
from services.registry.repository import DuplicateKey, ProfileRepository
from services.registry.schemas.profiles import ProfileCreate
from services.registry.usecases.records import audit_row
from services.registry.usecases.registration import (
    Prepared,
    emit_created,
    item_errors,
    prepare,
)
from services.registry.usecases.scope import require_role
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.db import Database
from shared.errors import validation_errors
from shared.i18n import current_language
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity
from shared.peers import Peers

DocKey = tuple[str, str, str]
Owner = tuple[str, str, str, str]


def _validate(raw: Any) -> tuple[ProfileCreate, list[dict[str, str]]]:
    """One item, and its warnings: an optional phone that is not a valid number is dropped
    (the person is registered without it, with a warning on the row) rather than sinking the
    person, as NGO lists carry old and mistyped numbers."""
    try:
        return ProfileCreate.model_validate(raw), []
    except ValidationError as exc:
        bad_phone = isinstance(raw, dict) and raw.get("phone") is not None and all(
            e["loc"][:1] == ("phone",) for e in exc.errors())
        if not bad_phone:
            raise
    data = ProfileCreate.model_validate({k: v for k, v in raw.items() if k != "phone"})
    return data, [{"field": "phone", "message": PHONE_DROPPED.render(current_language())}]


def _validate_items(identity: Identity, items: list[Any], cipher: SensitiveCipher,
                    now: datetime, results: list[dict[str, Any]]
                    ) -> list[tuple[int, Prepared, list[dict[str, str]]]]:
    """The valid items, prepared, with their warnings; an invalid one gets its result (with
    field errors) now."""
    lang = current_language()
    prepared: list[tuple[int, Prepared, list[dict[str, str]]]] = []
    for i, raw in enumerate(items):
        try:
            data, warnings = _validate(raw)
        except ValidationError as exc:
            results[i] = {"index": i, "status": "invalid",
                          "errors": validation_errors(exc.errors(), lang)}
            continue
        errors = item_errors(identity, data)
        if errors:
            results[i] = {"index": i, "status": "invalid", "errors": [
                {"field": f, "message": t.render(lang)} for f, t in errors]}
            continue
        prepared.append((i, prepare(identity, data, cipher, now), warnings))
    return prepared


async def _drop_unknown_programmes(peers: Peers, identity: Identity,
                                   prepared: list[tuple[int, Prepared]],
                                   results: list[dict[str, Any]]
                                   ) -> list[tuple[int, Prepared]]:
    """Items whose consents name a programme the referrals catalogue does not know become
    invalid (naming each field); the catalogue is asked once for the whole batch, before the
    transaction opens (503 when it cannot be asked: nothing is written)."""
    wanted = {c["programme_id"] for _, p in prepared for c in p.consents if c["programme_id"]}
    if not wanted:
        return prepared
    unknown = await unknown_programmes(peers, identity, wanted)
    lang = current_language()
    kept = []
    for i, prep in prepared:
        bad = [j for j, c in enumerate(prep.consents) if c["programme_id"] in unknown]
        if bad:
            results[i] = {"index": i, "status": "invalid", "errors": [
                {"field": f"consents[{j}].programme_id",
                 "message": UNKNOWN_PROGRAMME.render(lang)} for j in bad]}
        else:
            kept.append((i, prep))
    return kept


async def _visible_owners(repo: ProfileRepository, identity: Identity, now: datetime,
                          existing: dict[DocKey, Owner]) -> set[str]:
    """The active profiles among the documents' holders that the caller may see."""
    owners = {v[0]: v for v in existing.values()}
    org = identity.organisation_id or ""
    # consents matter only outside the caller's organisation: bulk callers are never providers
    consents = await repo.consents_naming_among(
        org, [pid for pid, o, _, _ in owners.values() if o != org])
    return {pid for pid, o, region, status in owners.values()
            if status == ProfileStatus.ACTIVE and access_of(
                identity, RowView({"id": pid, "organisation_id": o, "region": region}),
                consents.get(pid, ()), now) is not None}


def _judge(prepared: list[tuple[int, Prepared]], existing: dict[DocKey, Owner],
           visible: set[str], results: list[dict[str, Any]]) -> list[tuple[int, Prepared]]:
    """Duplicates of registered documents or of earlier items get their result; the rest
    are to be created."""
    first_seen: dict[DocKey, int] = {}
    to_insert: list[tuple[int, Prepared]] = []
    for i, prep in prepared:
        dup = next((existing[k] for k in prep.doc_keys if k in existing), None)
        if dup is not None:
            results[i] = {"index": i, "status": "duplicate",
                          "existing_profile_id": dup[0] if dup[0] in visible else None}
            continue
        earlier = next((first_seen[k] for k in prep.doc_keys if k in first_seen), None)
        if earlier is not None:
            results[i] = {"index": i, "status": "duplicate", "duplicate_of_index": earlier}
            continue
        for k in prep.doc_keys:
            first_seen[k] = i
        to_insert.append((i, prep))
        results[i] = {"index": i, "status": "created", "id": prep.profile["id"]}
    return to_insert


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "created": sum(r["status"] == "created" for r in results),
        "duplicates": sum(r["status"] == "duplicate" for r in results),
        "invalid": sum(r["status"] == "invalid" for r in results),
        "results": [{k: v for k, v in r.items() if v is not None} for r in results],
    }


async def bulk_create(
    *, db: Database, peers: Peers, identity: Identity, items: list[Any],
    cipher: SensitiveCipher, idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    """Up to 1,000 people in one transaction, each judged on its own: created, duplicate
    (document already registered, or repeated in the batch) or invalid (with field errors)."""
    require_role(identity, CASELOAD_ROLES)
    now = utcnow()
    results: list[dict[str, Any]] = [{} for _ in items]
    checked = _validate_items(identity, items, cipher, now, results)
    prepared = await _drop_unknown_programmes(
        peers, identity, [(i, prep) for i, prep, _ in checked], results)
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        existing = await repo.find_documents({k for _, p in prepared for k in p.doc_keys})
        visible = await _visible_owners(repo, identity, now, existing)
        to_insert = _judge(prepared, existing, visible, results)
        for i, _, warnings in checked:
            if warnings and results[i]["status"] == "created":
                results[i]["warnings"] = warnings
        try:
            await repo.insert_many([p.profile for _, p in to_insert],
                                   [d for _, p in to_insert for d in p.documents],
                                   [c for _, p in to_insert for c in p.consents])
        except DuplicateKey:
            raise BatchConflict() from None
        audit = []
        for _, prep in to_insert:
            fields = [f for f in SCALAR_FIELDS if prep.profile.get(f) is not None]
            audit.append(audit_row(identity, prep.profile["id"], "create", fields, now))
            emit_created(uow, prep)
        await repo.add_audit(audit)
        stored = await uow.remember(idempotency, status_code=200, body=dumps(_summary(results)),
                                    headers={"Cache-Control": "no-store"})
        await uow.commit()
        return stored
