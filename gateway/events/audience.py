"""Who receives an event: the organisations that may see it, the subscriptions that match
it, and the payload a subscriber is sent. The hub applies these when an event enters the
feed and a replay applies them again, so a replay never sends a subscription what it could
not have received the first time."""

from __future__ import annotations

from typing import Any

from gateway.events.models import WebhookSubscription
from shared.identity import Role
from shared.outbox import EventEnvelope


def audience_of(event: EventEnvelope) -> set[str]:
    """The organisations that may see an event: its owner, plus any it names in
    ``data.organisations`` (e.g. the provider a referral is addressed to)."""
    orgs = {event.organisation_id} if event.organisation_id else set()
    extra = event.data.get("organisations")
    if isinstance(extra, list):
        orgs |= {str(o) for o in extra if o}
    return orgs


def subscribed(subscription: WebhookSubscription, event_type: str) -> bool:
    return "*" in subscription.event_types or event_type in subscription.event_types


def may_see(role: str, organisation_id: str | None, audience: set[str]) -> bool:
    return role == Role.ADMIN.value or (organisation_id is not None
                                        and organisation_id in audience)


def delivery_payload(event: EventEnvelope, position: int | None) -> dict[str, Any]:
    """What a subscriber receives: the Standard Webhooks shape, ids and field names only."""
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {"event_id": event.event_id, "position": position,
                 "subject_type": event.subject_type, "subject_id": event.subject_id,
                 "subject_version": event.subject_version,
                 "organisation_id": event.organisation_id, "regions": event.regions,
                 **{k: v for k, v in event.data.items() if k != "organisations"}},
    }
