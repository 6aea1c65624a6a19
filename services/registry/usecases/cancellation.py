"""Cancellation (ARCO): the person's data is pseudonymised; anonymous statistics stay."""

from __future__ import annotations

from datetime import datetime

from services.registry.models import Profile, ProfileStatus
from services.registry.presenters import PERSONAL_FIELDS, age_band
from services.registry.repository import ProfileRepository
from services.registry.schemas.consents import ConsentStatus
from services.registry.usecases.records import audit_row, profile_event
from services.registry.usecases.scope import load_visible, require_role
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion
from shared.db import Database
from shared.idempotency import forget_responses_mentioning
from shared.identity import Identity


def pseudonymise(p: Profile, now: datetime) -> None:
    """Empty the personal columns, keeping the age band it had for statistics (a merged
    duplicate is emptied the same way)."""
    p.erased_age_band = age_band(p.birth_date, now.date()) or p.erased_age_band
    for name in PERSONAL_FIELDS:
        setattr(p, name, None)
    p.sensitive_ciphertext = None
    p.sensitive_key_id = None
    p.search_key = None


async def erase_profile(*, db: Database, identity: Identity, profile_id: str,
                        expected: ExpectedVersion) -> None:
    """Pseudonymise: personal columns emptied, documents made unmatchable, granted consents
    withdrawn; age band, sex, nationality, population type and region stay for statistics.
    ``profile.erased`` tells the other services to do the same with what they hold."""
    require_role(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, _ = await load_visible(repo, identity, profile_id, now, owner_only=True)
        expected.check(p.version)
        pseudonymise(p, now)
        p.status = ProfileStatus.ERASED
        p.erased_at = now
        p.updated_at = now
        for d in await repo.documents_of([p.id]):
            d.number = None
            d.expiry_date = None
        for c in await repo.consents_of(p.id):
            if c.status == ConsentStatus.GRANTED:
                c.status = ConsentStatus.WITHDRAWN.value
                c.withdrawn_at = now
                c.withdrawn_by = identity.subject
        await uow.session.flush()
        # the first response of an idempotent create holds the person's data: forget it
        await forget_responses_mentioning(uow.session, p.id)
        await repo.add_audit([audit_row(identity, p.id, "erase", PERSONAL_FIELDS, now)])
        uow.emit(profile_event("profile.erased", p))
        await uow.commit()
