"""Events of other services that change credentials: a person erased, merged or moved.

Each runs inside the unit of work of the event consumer, which commits (and records the
event as handled) once the handler returns.
"""

from __future__ import annotations

import structlog

from services.credentials.repository import CredentialRepository
from shared.db import UnitOfWork
from shared.idempotency import forget_responses_mentioning
from shared.outbox import EventEnvelope

log = structlog.get_logger("ruta.credentials")


async def on_profile_erased(uow: UnitOfWork, event: EventEnvelope) -> None:
    """Cancellation (ARCO): empty the person's credentials, keep kinds, states and codes."""
    repo = CredentialRepository(uow.session)
    count = await repo.erase_profile(event.subject_id)
    # the first response of an idempotent create holds the credential's details
    await forget_responses_mentioning(uow.session, event.subject_id)
    log.info("credentials_pseudonymised", count=count)


async def on_profile_merged(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A duplicate merged into another profile: its credentials follow the survivor."""
    survivor = event.data.get("merged_into")
    if isinstance(survivor, str) and 0 < len(survivor) <= 36:
        await CredentialRepository(uow.session).move_profile(event.subject_id, survivor)


async def on_profile_updated(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A person who moves region moves their credentials' scope with them."""
    changed = event.data.get("changed_fields") or []
    if "region" in changed and event.regions:
        await CredentialRepository(uow.session).move_profile_region(event.subject_id,
                                                                    event.regions[0])
