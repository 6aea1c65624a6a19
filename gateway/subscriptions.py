"""Use cases for the event feed, webhook subscriptions and inbound ministry callbacks."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import and_, select

from gateway.events import audience_of, delivery_payload, may_see, subscribed
from gateway.models import (
    EventAudience,
    FeedEvent,
    InboundMessage,
    InboundSource,
    Organisation,
    WebhookDelivery,
    WebhookSubscription,
)
from gateway.webhooks import new_secret, validate_target, verify
from shared.clock import UtcDateTime, as_utc, utcnow
from shared.concurrency import ExpectedVersion
from shared.crypto import Sealer
from shared.db import Database, UnitOfWork
from shared.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.outbox import EventEnvelope
from shared.pagination import CursorCodec, Page
from shared.peers import Peers
from shared.settings import Settings

EVENT_TYPES = {
    "profile.created", "profile.updated", "profile.merged", "profile.erased",
    "consent.granted", "consent.withdrawn", "referral.created", "referral.status_changed",
    "referral.overdue", "pathway.advanced", "pathway.completed", "credential.created",
    "credential.status_changed", "credential.revoked", "webhook.endpoint_disabled",
}
EventType = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+\.[a-z_]+)$", max_length=64)]


# --- schemas ------------------------------------------------------------------------------

class FeedItem(BaseModel):
    position: int
    event_id: str
    type: str
    occurred_at: UtcDateTime
    subject_type: str
    subject_id: str
    subject_version: int | None
    organisation_id: str | None
    regions: list[str]
    data: dict[str, Any]


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str = Field(description="Always present: poll again with it to resume.")


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "url": "https://sistemas.mtpe.gob.pe/ruta/webhooks",
        "event_types": ["referral.created", "referral.status_changed"],
        "description": "Centro de Empleo Lima"}})

    url: AnyHttpUrl
    event_types: list[EventType] = Field(min_length=1, max_length=20)
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    event_types: list[str]
    description: str | None
    status: str
    disabled_reason: str | None
    organisation_id: str | None
    version: int
    created_at: UtcDateTime


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(description="Shown once: verify the webhook-signature with it.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    next_attempt_at: UtcDateTime | None
    created_at: UtcDateTime
    delivered_at: UtcDateTime | None


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"delivery_id": "0b7f6c5e-1a43-4a3f-9d4e-3c1b2a0f9e8d"},
        {"since": "2026-11-20T00:00:00Z"}]})

    delivery_id: str | None = Field(None, max_length=36)
    since: datetime | None = None


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "id": "sunedu", "name": "SUNEDU — reconocimiento de grados", "organisation_id":
        "sunedu"}})

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    name: Annotated[str, StringConstraints(min_length=2, max_length=200)]
    organisation_id: Annotated[str, StringConstraints(max_length=64)]


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    organisation_id: str
    status: str
    created_at: UtcDateTime


class SourceWithSecret(SourceOut):
    secret: str


class InboundType(StrEnum):
    REFERRAL_TRANSITION = "referral.transition"
    CREDENTIAL_TRANSITION = "credential.transition"


class InboundBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "credential.transition",
        "data": {"credential_id": "5b1e...", "action": "recognise",
                 "reason": "Resolución emitida",
                 "recognition": {"body": "SUNEDU", "resolution_number": "0123-2026-SUNEDU",
                                 "resolution_date": "2026-11-20"}}}})

    type: InboundType
    data: dict[str, Any]


# --- errors -------------------------------------------------------------------------------

class SubscriptionNotFound(NotFound):
    code = "subscription-not-found"
    detail_text = Text("La suscripción no existe o no está a su alcance.",
                       "The subscription does not exist or is outside your scope.")


class DeliveryNotFound(NotFound):
    code = "delivery-not-found"


class UnknownEventType(ValidationFailed):
    code = "unknown-event-type"


class InboundRejected(AppError):
    status = 401
    code = "inbound-signature"
    detail_text = Text("Firma, marca de tiempo o fuente no válidas.",
                       "Invalid signature, timestamp or source.")


class InboundInvalid(AppError):
    status = 422
    code = "inbound-invalid"
    detail_text = Text("El mensaje no se pudo aplicar: {reason}",
                       "The message could not be applied: {reason}")


class InboundInFlight(Conflict):
    code = "inbound-in-flight"
    detail_text = Text("Ese mensaje se está procesando.", "That message is being processed.")


# --- feed ---------------------------------------------------------------------------------

async def list_events(*, db: Database, identity: Identity, cursors: CursorCodec,
                      types: list[str], cursor: str | None, limit: int) -> FeedPage:
    wanted = sorted(set(types))
    filters = {"types": wanted}
    after = int(cursors.decode(cursor, "events", filters)[0]) if cursor else 0
    q = select(FeedEvent).where(FeedEvent.position > after)
    if wanted:
        q = q.where(FeedEvent.type.in_(wanted))
    if not identity.is_admin:
        q = q.join(EventAudience, and_(EventAudience.position == FeedEvent.position,
                                       EventAudience.organisation_id
                                       == (identity.organisation_id or "")))
    async with db.uow() as uow:
        rows = (await uow.session.scalars(q.order_by(FeedEvent.position).limit(limit))).all()
        items = [FeedItem(position=r.position, event_id=r.event_id, type=r.type,
                          occurred_at=as_utc(r.occurred_at), subject_type=r.subject_type,
                          subject_id=r.subject_id, subject_version=r.subject_version,
                          organisation_id=r.organisation_id, regions=list(r.regions),
                          data={k: v for k, v in r.data.items() if k != "organisations"})
                 for r in rows]
    last = items[-1].position if items else after
    return FeedPage(items=items, next_cursor=cursors.encode("events", filters, [last]))


# --- subscriptions ------------------------------------------------------------------------

def _owns(identity: Identity, sub: WebhookSubscription) -> bool:
    return identity.is_admin or (sub.organisation_id is not None
                                 and sub.organisation_id == identity.organisation_id)


async def _subscription(uow: UnitOfWork, identity: Identity, sub_id: str) -> WebhookSubscription:
    sub = await uow.session.get(WebhookSubscription, sub_id)
    if sub is None or not _owns(identity, sub):
        raise SubscriptionNotFound()
    return sub


def _seal(sealer: Sealer, sub_id: str, secret: str) -> str:
    return sealer.seal(secret.encode(), f"webhook:{sub_id}".encode())


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
            secret=_seal(Sealer.from_settings(settings), sub_id, secret), status="active")
        uow.session.add(sub)
        await uow.session.flush()
        out = SubscriptionWithSecret(**SubscriptionOut.model_validate(sub).model_dump(),
                                     secret=secret)
        await uow.commit()
    return out


async def list_subscriptions(*, db: Database, identity: Identity) -> list[SubscriptionOut]:
    q = select(WebhookSubscription).order_by(WebhookSubscription.created_at).limit(200)
    if not identity.is_admin:
        q = q.where(WebhookSubscription.organisation_id == (identity.organisation_id or ""))
    async with db.uow() as uow:
        return [SubscriptionOut.model_validate(s)
                for s in (await uow.session.scalars(q)).all()]


async def get_subscription(*, db: Database, identity: Identity, sub_id: str
                           ) -> SubscriptionOut:
    async with db.uow() as uow:
        return SubscriptionOut.model_validate(await _subscription(uow, identity, sub_id))


async def rotate_subscription_secret(*, db: Database, identity: Identity, settings: Settings,
                                     sub_id: str, expected: ExpectedVersion
                                     ) -> SubscriptionWithSecret:
    """During the overlap (24 h) deliveries carry both signatures."""
    secret = new_secret()
    async with db.uow() as uow:
        sub = await _subscription(uow, identity, sub_id)
        expected.check(sub.version)
        sub.previous_secret = sub.secret
        sub.previous_secret_expires_at = utcnow() + timedelta(hours=24)
        sub.secret = _seal(Sealer.from_settings(settings), sub.id, secret)
        await uow.session.flush()
        out = SubscriptionWithSecret(**SubscriptionOut.model_validate(sub).model_dump(),
                                     secret=secret)
        await uow.commit()
    return out


async def set_subscription_status(*, db: Database, identity: Identity, sub_id: str,
                                  status: str, expected: ExpectedVersion) -> SubscriptionOut:
    async with db.uow() as uow:
        sub = await _subscription(uow, identity, sub_id)
        expected.check(sub.version)
        sub.status = status
        sub.disabled_reason = None if status == "active" else "disabled by its owner"
        if status == "active":
            sub.failing_since = None
        await uow.session.flush()
        out = SubscriptionOut.model_validate(sub)
        await uow.commit()
    return out


async def queue_test(*, db: Database, identity: Identity, sub_id: str) -> DeliveryOut:
    async with db.uow() as uow:
        sub = await _subscription(uow, identity, sub_id)
        now = utcnow()
        event_id = str(uuid.uuid4())
        payload = {"type": "webhook.test", "timestamp": now.isoformat().replace("+00:00", "Z"),
                   "data": {"subscription_id": sub.id}}
        d = WebhookDelivery(id=str(uuid.uuid4()), subscription_id=sub.id, kind="test",
                            event_id=event_id, event_type="webhook.test", payload=payload,
                            status="pending", attempts=0, next_attempt_at=now, created_at=now)
        uow.session.add(d)
        await uow.session.flush()
        out = DeliveryOut.model_validate(d)
        await uow.commit()
    return out


async def replay(*, db: Database, identity: Identity, sub_id: str, data: ReplayIn) -> int:
    """Send again one delivery, or every event since a time that this subscription matches."""
    if (data.delivery_id is None) == (data.since is None):
        raise ValidationFailed([("body", Text("Indique delivery_id o since (uno de los dos)",
                                              "Give delivery_id or since (exactly one)"))])
    now = utcnow()
    async with db.uow() as uow:
        sub = await _subscription(uow, identity, sub_id)
        count = 0
        if data.delivery_id is not None:
            old = await uow.session.get(WebhookDelivery, data.delivery_id)
            if old is None or old.subscription_id != sub.id:
                raise DeliveryNotFound()
            uow.session.add(WebhookDelivery(
                id=str(uuid.uuid4()), subscription_id=sub.id, kind="replay",
                event_id=old.event_id, event_position=old.event_position,
                event_type=old.event_type, payload=old.payload, status="pending", attempts=0,
                next_attempt_at=now, created_at=now))
            count = 1
        else:
            assert data.since is not None
            rows = (await uow.session.scalars(
                select(FeedEvent).where(FeedEvent.recorded_at >= data.since)
                .order_by(FeedEvent.position).limit(10_000))).all()
            for r in rows:
                env = EventEnvelope(event_id=r.event_id, type=r.type,
                                    occurred_at=as_utc(r.occurred_at),
                                    subject_type=r.subject_type, subject_id=r.subject_id,
                                    subject_version=r.subject_version,
                                    organisation_id=r.organisation_id,
                                    regions=list(r.regions), data=dict(r.data))
                if subscribed(sub, r.type) and may_see(sub.owner_role, sub.organisation_id,
                                                       audience_of(env)):
                    uow.session.add(WebhookDelivery(
                        id=str(uuid.uuid4()), subscription_id=sub.id, kind="replay",
                        event_id=r.event_id, event_position=r.position, event_type=r.type,
                        payload=delivery_payload(env, r.position), status="pending",
                        attempts=0, next_attempt_at=now, created_at=now))
                    count += 1
        await uow.commit()
    return count


async def list_deliveries(*, db: Database, identity: Identity, cursors: CursorCodec,
                          sub_id: str, status: str | None, cursor: str | None, limit: int
                          ) -> Page[DeliveryOut]:
    filters = {"sub": sub_id, "status": status}
    before = cursors.decode(cursor, "deliveries", filters) if cursor else None
    async with db.uow() as uow:
        await _subscription(uow, identity, sub_id)
        q = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id)
        if status:
            q = q.where(WebhookDelivery.status == status)
        if before:
            q = q.where(WebhookDelivery.id > before[0])
        rows = (await uow.session.scalars(q.order_by(WebhookDelivery.id).limit(limit + 1))).all()
        items = [DeliveryOut.model_validate(d) for d in rows[:limit]]
    nxt = cursors.encode("deliveries", filters, [items[-1].id]) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


async def endpoint_disabled_event(uow: UnitOfWork, sub: WebhookSubscription, reason: str
                                  ) -> None:
    """The owner hears about it through the feed (and any other endpoint it subscribed)."""
    from gateway.events import append_events

    await append_events(uow, "gateway", [EventEnvelope(
        event_id=str(uuid.uuid4()), type="webhook.endpoint_disabled", occurred_at=utcnow(),
        subject_type="webhook_subscription", subject_id=sub.id, subject_version=sub.version,
        organisation_id=sub.organisation_id, regions=[], data={"reason": reason})])


# --- inbound callbacks --------------------------------------------------------------------

async def create_source(*, db: Database, identity: Identity, settings: Settings,
                        data: SourceCreate) -> SourceWithSecret:
    if not identity.is_admin:
        raise Forbidden()
    secret = new_secret()
    async with db.uow() as uow:
        if await uow.session.get(Organisation, data.organisation_id) is None:
            raise ValidationFailed([("organisation_id", Text("La organización no existe",
                                                             "The organisation does not exist"))])
        if await uow.session.get(InboundSource, data.id) is not None:
            raise Conflict(Text("Ya existe esa fuente", "That source already exists"))
        source = InboundSource(id=data.id, name=data.name, organisation_id=data.organisation_id,
                               secret=Sealer.from_settings(settings).seal(
                                   secret.encode(), f"inbound:{data.id}".encode()),
                               status="active")
        uow.session.add(source)
        await uow.session.flush()
        out = SourceWithSecret(**SourceOut.model_validate(source).model_dump(), secret=secret)
        await uow.commit()
    return out


async def list_sources(*, db: Database, identity: Identity) -> list[SourceOut]:
    if not identity.is_admin:
        raise Forbidden()
    async with db.uow() as uow:
        return [SourceOut.model_validate(s) for s in
                (await uow.session.scalars(select(InboundSource).order_by(InboundSource.id)))]


TOLERANCE_SECONDS = 300


async def receive_inbound(*, db: Database, peers: Peers, settings: Settings, source_id: str,
                          headers: dict[str, str], body: bytes) -> dict[str, str]:
    """Verify, dedup by webhook-id, apply through the owning service, record."""
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    signature = headers.get("webhook-signature", "")
    async with db.uow() as uow:
        source = await uow.session.get(InboundSource, source_id[:64])
    if source is None or source.status != "active" or not msg_id or len(msg_id) > 200:
        raise InboundRejected()
    if not ts.isdigit() or abs(time.time() - int(ts)) > TOLERANCE_SECONDS:
        raise InboundRejected()
    secret = Sealer.from_settings(settings).unseal(source.secret,
                                                   f"inbound:{source.id}".encode()).decode()
    if not verify([secret], msg_id, ts, body, signature):
        raise InboundRejected()
    try:
        message = InboundBody.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValueError):
        message = None
    async with db.uow() as uow:
        seen = await uow.session.get(InboundMessage, (source.id, msg_id))
        if seen is not None and seen.result in ("applied", "rejected"):
            return {"status": "duplicate", "result": seen.result}
        if seen is not None and seen.result == "processing":
            raise InboundInFlight()
        if seen is None:
            uow.session.add(InboundMessage(
                source_id=source.id, webhook_id=msg_id, received_at=utcnow(),
                type=message.type.value if message else "invalid", result="processing"))
        else:
            seen.result = "processing"
        await uow.commit()
    if message is None:
        await _finish(db, source.id, msg_id, "rejected", 422, "invalid body")
        raise InboundInvalid(reason="body")
    identity = Identity(subject=f"inbound:{source.id}", role=Role.MINISTRY_SYSTEM,
                        organisation_id=source.organisation_id)
    data = dict(message.data)
    if message.type is InboundType.REFERRAL_TRANSITION:
        target = str(data.pop("referral_id", ""))
        path, service = f"/v1/referrals/{target}/transitions", "referrals"
    else:
        target = str(data.pop("credential_id", ""))
        path, service = f"/internal/credentials/{target}/transitions", "credentials"
    if not target or "/" in target:
        await _finish(db, source.id, msg_id, "rejected", 422, "missing target id")
        raise InboundInvalid(reason="id")
    try:
        resp = await peers.request(service, "POST", path, identity=identity, json=data,
                                   headers={"If-Match": "*", "Idempotency-Key": msg_id})
    except AppError:
        await _finish(db, source.id, msg_id, "failed", 503, "service unavailable")
        raise
    if resp.status_code >= 500:
        await _finish(db, source.id, msg_id, "failed", resp.status_code, "service error")
        raise InboundInvalid(reason="service error")
    if resp.status_code >= 400:
        detail = str(resp.json().get("title", ""))[:200] if resp.headers.get(
            "content-type", "").endswith("json") else ""
        await _finish(db, source.id, msg_id, "rejected", resp.status_code, detail)
        raise InboundInvalid(reason=detail or str(resp.status_code))
    await _finish(db, source.id, msg_id, "applied", resp.status_code, None)
    return {"status": "applied"}


async def _finish(db: Database, source_id: str, msg_id: str, result: str, status: int,
                  detail: str | None) -> None:
    async with db.uow() as uow:
        row = await uow.session.get(InboundMessage, (source_id, msg_id))
        if row is not None:
            row.result = result
            row.status_code = status
            row.detail = detail
        await uow.commit()
