"""Webhook subscription use cases. Each owns its transaction.

A subscription belongs to its owner's organisation: another organisation's is "not found",
never "forbidden", so its existence is not revealed. Secrets are shown once, at creation
and rotation, and stored sealed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from gateway.events.errors import SubscriptionNotFound, UnknownEventType
from gateway.events.hub import append_events
from gateway.events.models import WebhookSubscription
from gateway.events.repository import EventsRepository
from gateway.events.schemas import (
    EVENT_TYPES,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionWithSecret,
)
from gateway.events.signing import new_secret, seal_subscription_secret
from gateway.events.targets import validate_target
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion
from shared.crypto import Sealer
from shared.db import Database, UnitOfWork
from shared.i18n import Text
from shared.identity import Identity
from shared.outbox import EventEnvelope
from shared.settings import Settings

# During a rotation deliveries carry both signatures for this long.
SECRET_OVERLAP = timedelta(hours=24)


def owns(identity: Identity, sub: WebhookSubscription) -> bool:
    return identity.is_admin or (sub.organisation_id is not None
                                 and sub.organisation_id == identity.organisation_id)


async def load_owned_subscription(repo: EventsRepository, identity: Identity, sub_id: str
                                  ) -> WebhookSubscription:
    sub = await repo.subscription(sub_id)
    if sub is None or not owns(identity, sub):
        raise SubscriptionNotFound()
    return sub


async def create_subscription(*, db: Database, identity: Identity, settings: Settings,
                              data: SubscriptionCreate) -> SubscriptionWithSecret:
    url = str(data.url)
    validate_target(url, settings)
    unknown = [t for t in data.event_types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise UnknownEventType([("event_types", Text("Tipo de evento desconocido",
                                                     "Unknown event type"))])
    secret = new_secret()
    sub_id = str(uuid.uuid4())
    async with db.uow() as uow:
        sub = WebhookSubscription(
            id=sub_id, owner=identity.subject, organisation_id=identity.organisation_id,
            owner_role=identity.role.value, url=url, description=data.description,
            event_types=sorted(set(data.event_types)),
            secret=seal_subscription_secret(Sealer.from_settings(settings), sub_id, secret),
            status="active")
        EventsRepository(uow.session).add(sub)
        await uow.session.flush()
        out = SubscriptionWithSecret(**SubscriptionOut.model_validate(sub).model_dump(),
                                     secret=secret)
        await uow.commit()
    return out


async def list_subscriptions(*, db: Database, identity: Identity) -> list[SubscriptionOut]:
    organisation_id = None if identity.is_admin else (identity.organisation_id or "")
    async with db.uow() as uow:
        rows = await EventsRepository(uow.session).subscriptions(
            organisation_id=organisation_id, limit=200)
        return [SubscriptionOut.model_validate(s) for s in rows]


async def get_subscription(*, db: Database, identity: Identity, sub_id: str
                           ) -> SubscriptionOut:
    async with db.uow() as uow:
        sub = await load_owned_subscription(EventsRepository(uow.session), identity, sub_id)
        return SubscriptionOut.model_validate(sub)


async def rotate_subscription_secret(*, db: Database, identity: Identity, settings: Settings,
                                     sub_id: str, expected: ExpectedVersion
                                     ) -> SubscriptionWithSecret:
    """During the overlap (24 h) deliveries carry both signatures."""
    secret = new_secret()
    async with db.uow() as uow:
        sub = await load_owned_subscription(EventsRepository(uow.session), identity, sub_id)
        expected.check(sub.version)
        sub.previous_secret = sub.secret
        sub.previous_secret_expires_at = utcnow() + SECRET_OVERLAP
        sub.secret = seal_subscription_secret(Sealer.from_settings(settings), sub.id, secret)
        await uow.session.flush()
        out = SubscriptionWithSecret(**SubscriptionOut.model_validate(sub).model_dump(),
                                     secret=secret)
        await uow.commit()
    return out


async def set_subscription_status(*, db: Database, identity: Identity, sub_id: str,
                                  status: str, expected: ExpectedVersion) -> SubscriptionOut:
    async with db.uow() as uow:
        sub = await load_owned_subscription(EventsRepository(uow.session), identity, sub_id)
        expected.check(sub.version)
        sub.status = status
        sub.disabled_reason = None if status == "active" else "disabled by its owner"
        if status == "active":
            sub.failing_since = None
        await uow.session.flush()
        out = SubscriptionOut.model_validate(sub)
        await uow.commit()
    return out


async def endpoint_disabled_event(uow: UnitOfWork, sub: WebhookSubscription, reason: str
                                  ) -> None:
    """The owner hears about it through the feed (and any other endpoint it subscribed)."""
    await append_events(uow, "gateway", [EventEnvelope(
        event_id=str(uuid.uuid4()), type="webhook.endpoint_disabled", occurred_at=utcnow(),
        subject_type="webhook_subscription", subject_id=sub.id, subject_version=sub.version,
        organisation_id=sub.organisation_id, regions=[], data={"reason": reason})])
