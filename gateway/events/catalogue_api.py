"""The event catalogue as integrators read it: ``GET /v1/event-types`` and the OpenAPI 3.1
``webhooks`` section (one entry per type: the body a subscriber receives and the Standard
Webhooks headers that sign it). Both come from :mod:`shared.event_types`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gateway.edge.caller import GatewayIdentity
from shared.errors import problem_responses
from shared.event_types import CATALOGUE, EventType, delivery_model, describe, inline_schema


class EventTypeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(description="The event's `type`, e.g. `referral.created`.")
    version: int = Field(description="Changes only when a field is removed or changed; the "
                                     "new version is published as a new type `<name>.v<N>`.")
    subject_type: str
    description: str
    in_feed: bool = Field(description="Listed by GET /v1/events and open to subscriptions "
                                      "(false for the test ping only).")
    schema_: dict[str, Any] = Field(alias="schema", description=(
        "JSON Schema of the event as the feed lists it (of its delivery if not in the feed)."))
    webhook_schema: dict[str, Any] = Field(description="JSON Schema of the webhook body.")


class EventTypeList(BaseModel):
    items: list[EventTypeOut]


router = APIRouter(prefix="/v1", tags=["events and webhooks"])


@router.get(
    "/event-types", response_model=EventTypeList, operation_id="event_types_list",
    responses=problem_responses(401, 403, 429),
    summary="The event types, their versions and JSON schemas",
    description=(
        "Every event type the feed (`GET /v1/events`) and webhooks carry, with its version, "
        "a description, the JSON Schema of the event as the feed lists it and of the body a "
        "webhook subscriber receives. Events carry ids, states and changed field names, never "
        "personal data. Ignore fields you do not know: adding a field keeps a type's version; "
        "removing or changing one is a new version. Any authenticated caller may read it."))
async def event_types(identity: GatewayIdentity) -> EventTypeList:
    return EventTypeList(items=[EventTypeOut.model_validate(describe(t)) for t in CATALOGUE])


SIGNATURE_HEADERS: list[dict[str, Any]] = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "The event's id: the same on every retry, so deduplicate on it."},
    {"name": "webhook-timestamp", "in": "header", "required": True,
     "schema": {"type": "integer"}, "description": "Unix seconds when this attempt was signed; "
                                                   "reject old ones to stop replays."},
    {"name": "webhook-signature", "in": "header", "required": True,
     "schema": {"type": "string"},
     "description": "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>` "
                    "(two while a rotated secret overlaps), per Standard Webhooks."},
]


def _webhook(t: EventType) -> dict[str, Any]:
    return {"post": {
        "operationId": "webhook_" + t.name.replace(".", "_"),
        "tags": ["events and webhooks"],
        "summary": f"{t.name} (version {t.version})",
        "description": t.description + " Sent to each subscription that names this type "
                       "(or `*`) and may see the event; at least once, retried with backoff.",
        "parameters": [dict(h) for h in SIGNATURE_HEADERS],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": inline_schema(delivery_model(t))}}},
        "responses": {"2XX": {"description": "Received. Any other answer is retried; 410 "
                                             "disables the subscription."}},
    }}


def webhooks_section() -> dict[str, Any]:
    """The OpenAPI 3.1 ``webhooks``: one entry per event type a subscriber may receive."""
    return {t.name: _webhook(t) for t in CATALOGUE}
