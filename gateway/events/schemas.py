"""Request and response bodies of the event feed, webhook subscriptions and deliveries, and
inbound callbacks."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from shared.clock import UtcDateTime
from shared.deps import IsoDateTime
from shared.event_types import FEED_TYPES
from shared.text import MultiLineText, OneLineText

EVENT_TYPES = FEED_TYPES  # what a subscription may name (the catalogue, less the test ping)
EventType = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+\.[a-z_]+(\.v[0-9]+)?)$",
                                             max_length=64)]


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
    description: Annotated[str, StringConstraints(max_length=500), MultiLineText] | None = None


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

    delivery_id: Annotated[str, OneLineText] | None = Field(None, max_length=36)
    since: IsoDateTime | None = None


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "id": "sunedu", "name": "SUNEDU — reconocimiento de grados", "organisation_id":
        "sunedu"}})

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    name: Annotated[str, StringConstraints(min_length=2, max_length=200), OneLineText]
    organisation_id: Annotated[str, StringConstraints(max_length=64), OneLineText]


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
    # from a peer deployment: a person it was sent imported there (issue 21)
    TRANSFER_IMPORTED = "transfer.imported"
    # a public employment service's vacancy, created or updated by its own external_id
    VACANCY_UPSERT = "vacancy.upsert"


class InboundBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "credential.transition",
        "data": {"credential_id": "5b1e...", "action": "recognise",
                 "reason": "Resolución emitida",
                 "recognition": {"body": "SUNEDU", "resolution_number": "0123-2026-SUNEDU",
                                 "resolution_date": "2026-11-20"}}}})

    type: InboundType
    data: dict[str, Any]
