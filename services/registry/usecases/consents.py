"""The person's consent decisions: listing, recording, withdrawing, and answering other
services whether a recipient may receive the person's data for a purpose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.registry.clients import unknown_programmes
from services.registry.consent_rules import (
    consent_row,
    covers_sensitive,
    decide,
    effective_status,
    opposition,
)
from services.registry.errors import (
    UNKNOWN_PROGRAMME,
    ConsentNotFound,
    ConsentNotGranted,
    ProfileNotFound,
)
from services.registry.hot_reads import consent_check_audited, owner_statement_serves
from services.registry.models import Consent, Profile, ProfileStatus
from services.registry.presenters import consent_dict, dumps, profile_location
from services.registry.repository import ProfileRepository
from services.registry.schemas.consents import ConsentIn, ConsentStatus
from services.registry.usecases.records import audit_row, consent_event, profile_event
from services.registry.usecases.scope import (
    READERS,
    load_access,
    load_visible,
    not_found,
    require_role,
)
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, UnitOfWork
from shared.errors import ValidationFailed
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Role
from shared.peers import Peers


async def list_consents(*, db: Database, identity: Identity, profile_id: str) -> bytes:
    require_role(identity, READERS)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, access = await load_visible(repo, identity, profile_id, now, owner_only=False)
        consents = await repo.consents_of(p.id)
        if not access.owner:  # a recipient sees only the decisions about itself
            consents = [c for c in consents if c.recipient_organisation_id in (
                None, identity.organisation_id)]
        await repo.add_audit([audit_row(identity, p.id, "read", ["consents"], now)])
        await uow.commit()
    return dumps({"items": [consent_dict(c, now) for c in consents], "next_cursor": None})


def _apply_opposition(p: Profile, consents: Sequence[Any], now: datetime) -> list[str]:
    stats, contact = opposition(consents, now)
    changed = []
    if p.opt_out_statistics != stats:
        p.opt_out_statistics = stats
        changed.append("opt_out_statistics")
    if p.opt_out_contact != contact:
        p.opt_out_contact = contact
        changed.append("opt_out_contact")
    return changed


def _emit_updated(uow: UnitOfWork, p: Profile, changed: list[str]) -> None:
    if changed:
        uow.emit(profile_event("profile.updated", p, {"changed_fields": changed}))


async def ensure_known_programmes(peers: Peers, identity: Identity,
                                  named: Sequence[tuple[str, str | None]]) -> None:
    """422 naming each field whose ``programme_id`` the referrals catalogue does not know
    (``named``: field name, programme id or None); 503 when the catalogue cannot be asked.
    Asked before any transaction opens: no connection is held while referrals answers."""
    wanted = {pid for _, pid in named if pid is not None}
    if not wanted:
        return
    unknown = await unknown_programmes(peers, identity, wanted)
    errors = [(field, UNKNOWN_PROGRAMME) for field, pid in named if pid in unknown]
    if errors:
        raise ValidationFailed(errors)


async def record_consent(*, db: Database, peers: Peers, identity: Identity, profile_id: str,
                         data: ConsentIn, idempotency: IdempotencyKey | None = None
                         ) -> StoredResponse:
    require_role(identity, CASELOAD_ROLES)
    await ensure_known_programmes(peers, identity, [("programme_id", data.programme_id)])
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        p, _ = await load_visible(repo, identity, profile_id, now, owner_only=True)
        consent = Consent(**consent_row(p.id, data, identity, now))
        uow.session.add(consent)
        consents = [*await repo.consents_of(p.id), consent]
        changed = _apply_opposition(p, consents, now)
        if changed:
            p.updated_at = now
        await uow.session.flush()
        _emit_updated(uow, p, changed)
        if consent.status == ConsentStatus.GRANTED:
            uow.emit(consent_event("consent.granted", p, consent))
        action = "consent_grant" if consent.status == ConsentStatus.GRANTED \
            else "consent_refuse"
        await repo.add_audit([audit_row(identity, p.id, action, ["consents", *changed], now)])
        stored = await uow.remember(
            idempotency, status_code=201, body=dumps(consent_dict(consent, now)),
            headers={"ETag": etag(consent.version),
                     "Location": f"{profile_location(p.id)}/consents/{consent.id}"})
        await uow.commit()
        return stored


async def _withdraw(repo: ProfileRepository, identity: Identity, p: Profile,
                    consent: Consent, now: datetime) -> tuple[list[str], bool]:
    """Withdraw ``consent``; the oppositions it changed, and whether it erased the sensitive
    data it alone covered."""
    consent.status = ConsentStatus.WITHDRAWN.value
    consent.withdrawn_at = now
    consent.withdrawn_by = identity.subject
    consents = await repo.consents_of(p.id)
    changed = _apply_opposition(p, consents, now)
    sensitive_erased = False
    if consent.sensitive_data and p.sensitive_ciphertext is not None \
            and not covers_sensitive(consents, now):
        p.sensitive_ciphertext = None
        p.sensitive_key_id = None
        sensitive_erased = True
    if changed or sensitive_erased:
        p.updated_at = now
    return changed, sensitive_erased


async def withdraw_consent(*, db: Database, identity: Identity, profile_id: str,
                           consent_id: str, expected: ExpectedVersion | None,
                           idempotency: IdempotencyKey | None = None) -> StoredResponse:
    """Withdrawal is always honoured (Ley 29733 art. 9): If-Match is checked when sent, never
    required. Withdrawing the consent that covers sensitive data erases that data."""
    require_role(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        p, _ = await load_visible(repo, identity, profile_id, now, owner_only=True)
        consent = await repo.consent(p.id, consent_id)
        if consent is None:
            raise ConsentNotFound()
        if expected is not None:
            expected.check(consent.version)
        if effective_status(consent, now) != ConsentStatus.GRANTED:
            raise ConsentNotGranted()
        changed, sensitive_erased = await _withdraw(repo, identity, p, consent, now)
        await uow.session.flush()
        _emit_updated(uow, p, changed)
        uow.emit(consent_event("consent.withdrawn", p, consent))
        await repo.add_audit([audit_row(identity, p.id, "consent_withdraw",
                                        ["consents", *changed] + ["sensitive"] * sensitive_erased,
                                        now)])
        stored = await uow.remember(idempotency, status_code=200,
                                    body=dumps(consent_dict(consent, now)),
                                    headers={"ETag": etag(consent.version)})
        await uow.commit()
        return stored


async def check_consent(*, db: Database, identity: Identity, profile_id: str, purpose: str,
                        recipient: str | None, programme: str | None) -> dict[str, Any]:
    """May ``recipient`` receive this person's data for ``purpose``? Services ask this before
    sharing; a merged id is answered for the profile it was merged into."""
    if identity.role is not Role.SYSTEM:
        require_role(identity, READERS)
    now = utcnow()
    if owner_statement_serves(db, identity):
        # the common case in one statement: the caller's organisation asks about a person
        # it registered (as the profile read, usecases/reading.py)
        async with db.statement() as conn:
            owned, consents = await consent_check_audited(
                conn, profile_id=profile_id, regions=identity.regions,
                audit=audit_row(identity, profile_id, "consent_check", ["consents"], now))
        if owned.audited:
            return _answer(owned, purpose, recipient,
                           decide(consents, purpose, recipient, programme, now))
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p = await repo.get(profile_id)
        if p is not None and p.status == ProfileStatus.MERGED and p.merged_into:
            p = await repo.get(p.merged_into)
        if p is None or p.status != ProfileStatus.ACTIVE:
            raise await not_found(repo, identity, profile_id)
        if identity.role is not Role.SYSTEM \
                and await load_access(repo, identity, p, now) is None:
            raise ProfileNotFound(profile_id=profile_id)
        consent = decide(await repo.consents_of(p.id), purpose, recipient, programme, now)
        if identity.role is not Role.SYSTEM:
            await repo.add_audit([audit_row(identity, p.id, "consent_check", ["consents"],
                                            now)])
            await uow.commit()
    return _answer(p, purpose, recipient, consent)


def _answer(p: Any, purpose: str, recipient: str | None, consent: Any) -> dict[str, Any]:
    return {"profile_id": p.id, "organisation_id": p.organisation_id, "region": p.region,
            "purpose": purpose, "recipient": recipient,
            "granted": consent is not None, "consent_id": consent.id if consent else None}
