"""What every change of a credential leaves behind: its transition row and its event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.credentials.models import Credential, CredentialTransition
from shared.identity import Identity
from shared.outbox import Event


def credential_event(type_: str, c: Credential, data: dict[str, Any] | None = None) -> Event:
    """Thin events: ids and states, never the credential's content."""
    return Event(type=type_, subject_type="credential", subject_id=c.id,
                 subject_version=c.version, organisation_id=c.organisation_id,
                 regions=[c.region] if c.region else [],
                 data={"profile_id": c.profile_id, **(data or {})})


def transition_record(c: Credential, *, action: str, from_status: str | None, to_status: str,
                      identity: Identity, reason: str | None, details: dict[str, Any],
                      now: datetime) -> CredentialTransition:
    """The history row of a transition: who (and for which organisation), when and why."""
    return CredentialTransition(
        credential_id=c.id, action=action, from_status=from_status, to_status=to_status,
        reason=reason, details=details, actor=identity.subject, actor_role=identity.role.value,
        actor_organisation_id=identity.organisation_id, occurred_at=now)
