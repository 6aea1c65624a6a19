"""The person's consent decisions, read as rules: which decision is in force for a purpose and
a recipient, whether sensitive data is covered, and which oppositions (ARCO) they amount to.
Pure functions over consent rows or objects; the use cases load and store them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.registry.schemas.consents import (
    WRITTEN_EVIDENCE,
    ConsentIn,
    ConsentPurpose,
    ConsentStatus,
)
from shared.clock import as_utc
from shared.identity import Identity
from shared.models import new_id


def effective_status(c: Any, now: datetime) -> str:
    if c.status == ConsentStatus.GRANTED and c.valid_until is not None \
            and as_utc(c.valid_until) <= now:
        return ConsentStatus.EXPIRED.value
    return str(c.status)


def decide(consents: Sequence[Any], purpose: str, recipient: str | None,
           programme: str | None, now: datetime) -> Any | None:
    """The consent that grants ``purpose`` to ``recipient``, or None.

    The most specific records decide first (naming the recipient, then general ones), and
    among them the most recent: a later refusal or withdrawal overrides an earlier grant.
    """
    def matches(c: Any) -> bool:
        if c.purpose != purpose:
            return False
        if c.programme_id is not None and programme is not None and c.programme_id != programme:
            return False
        if c.recipient_organisation_id is not None:
            return c.recipient_organisation_id == recipient
        if purpose == ConsentPurpose.REFERRAL:
            return programme is not None and c.programme_id == programme
        return True

    candidates = [c for c in consents if matches(c)]
    specific = [c for c in candidates if c.recipient_organisation_id is not None]
    for group in (specific, [c for c in candidates if c.recipient_organisation_id is None]):
        if group:
            latest = max(group, key=lambda c: (as_utc(c.recorded_at), c.id))
            return latest if effective_status(latest, now) == ConsentStatus.GRANTED else None
    return None


def transfer_consent(consents: Sequence[Any], deployment: str, now: datetime) -> Any | None:
    """The consent in force that lets the record travel to ``deployment``, or None: the
    latest decision naming that deployment decides (a later withdrawal or refusal wins)."""
    named = [c for c in consents if c.purpose == ConsentPurpose.TRANSFER
             and c.recipient_deployment_id == deployment]
    if not named:
        return None
    latest = max(named, key=lambda c: (as_utc(c.recorded_at), c.id))
    return latest if effective_status(latest, now) == ConsentStatus.GRANTED else None


def covers_sensitive(consents: Sequence[Any], now: datetime) -> bool:
    """A granted, written registration consent covering sensitive data is in force."""
    c = decide([x for x in consents if x.sensitive_data], ConsentPurpose.REGISTRATION, None,
               None, now)
    return c is not None and c.evidence in WRITTEN_EVIDENCE


def consent_row(profile_id: str, c: ConsentIn, identity: Identity, now: datetime
                ) -> dict[str, Any]:
    return {"id": new_id(), "profile_id": profile_id, "purpose": c.purpose.value,
            "recipient_organisation_id": c.recipient_organisation_id,
            "recipient_deployment_id": c.recipient_deployment_id,
            "programme_id": c.programme_id, "status": c.status,
            "sensitive_data": c.sensitive_data, "evidence": c.evidence.value,
            "evidence_reference": c.evidence_reference, "witnessed_by": c.witnessed_by,
            "valid_until": c.valid_until, "recorded_by": identity.subject,
            "recorded_by_organisation_id": identity.organisation_id, "recorded_at": now,
            "withdrawn_at": None, "withdrawn_by": None, "version": 1}


def opposition(consents: Sequence[Any], now: datetime) -> tuple[bool, bool]:
    """(opt out of statistics, opt out of contact) from the person's latest decisions: a
    refused or withdrawn statistics/contact consent is an ARCO opposition."""
    out = []
    for purpose in (ConsentPurpose.STATISTICS, ConsentPurpose.CONTACT):
        general = [c for c in consents if c.purpose == purpose
                   and c.recipient_organisation_id is None and c.programme_id is None]
        if not general:
            out.append(False)
            continue
        latest = max(general, key=lambda c: (as_utc(c.recorded_at), c.id))
        out.append(str(latest.status) in (ConsentStatus.REFUSED, ConsentStatus.WITHDRAWN))
    return out[0], out[1]
