"""The event catalogue: every event type the system emits, each with a version, a description
and the schema of its ``data`` — the contract that ``GET /v1/event-types`` and the OpenAPI
``webhooks`` section publish.

Events carry ids, states and changed field names, never personal data. A consumer ignores
fields it does not know: adding a field keeps a type's version; removing, renaming or changing
one makes a new version, published as a new type ``<name>.v<N>`` beside the old one.

The relay does not enforce this list: an envelope's ``type`` stays an open string, so a newer
service's type passes through a gateway that does not know it yet (subscribers receive only the
types they named). The test suite holds producers to the catalogue instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

ReferralStatus = Literal["requested", "accepted", "rejected", "in_progress", "on_hold",
                         "completed", "failed", "cancelled"]
ReferralAction = Literal["accept", "reject", "start", "hold", "resume", "complete", "fail",
                         "cancel"]
CredentialStatus = Literal["self_declared", "document_seen", "apostilled",
                           "verified_with_issuer", "recognised", "rejected", "suspended",
                           "revoked"]
CredentialAction = Literal["see_document", "apostille", "verify_with_issuer", "recognise",
                           "reject", "suspend", "reinstate", "revoke"]
PathwayStatus = Literal["active", "on_hold", "completed", "cancelled"]


class EventData(BaseModel):
    """The type-specific fields of an event's ``data``."""

    model_config = ConfigDict(populate_by_name=True)


class NoData(EventData):
    pass


class ProfileUpdated(EventData):
    changed_fields: list[str] = Field(description="Names of the fields that changed.")


class ProfileMerged(EventData):
    merged_into: str = Field(description="The profile that absorbed this one.")


class ConsentChange(EventData):
    consent_id: str
    purpose: str = Field(description="What the consent is for, e.g. `referral`, `share`.")
    recipient_organisation_id: str | None
    programme_id: str | None


class TransferPrepared(EventData):
    bundle_id: str = Field(description="The portable record's id (the VP's `jti`).")
    destination: str = Field(description="The deployment it was prepared for.")
    consent_id: str = Field(description="The person's `transfer` consent it travels under.")
    expires_at: datetime


class TransferredIn(EventData):
    bundle_id: str
    origin_deployment: str = Field(description="The deployment it came from.")
    origin_profile_id: str = Field(description="The person's id there.")
    linked: bool = Field(description="Linked to a profile already registered here.")
    flagged_credentials: int = Field(description="Credentials not valid at the origin now "
                                                 "(revoked, suspended, status unavailable).")


class ReferralIds(EventData):
    profile_id: str
    programme_id: str
    provider_id: str
    provider_organisation_id: str
    referring_organisation_id: str
    pathway_id: str | None = Field(description="Set when the referral is a pathway's step.")


class ReferralCreated(ReferralIds):
    status: ReferralStatus


class ReferralStatusChanged(ReferralIds):
    from_: ReferralStatus = Field(alias="from")
    to: ReferralStatus
    action: ReferralAction
    reason_code: str | None = Field(description="Why it was rejected or failed (a code).")
    changed_fields: list[str]


class ReferralOverdue(ReferralIds):
    status: ReferralStatus
    phase: Literal["accept", "complete"] = Field(description="Which deadline passed.")
    due_at: datetime


class ReferralAtRisk(ReferralIds):
    status: ReferralStatus
    at_risk: bool = Field(description="True when flagged, false when the flag cleared.")
    reason_code: str = Field(description="Why, e.g. `work_authorisation_lapsed`.")
    document_type: str | None = Field(description="The lapsed document's type.")


class PathwayIds(EventData):
    profile_id: str
    template: str = Field(description="The pathway template, e.g. `degree_recognition`.")


class PathwayAdvanced(PathwayIds):
    from_step: int | None = Field(description="The step closed; null when the pathway starts.")
    to_step: int
    status: PathwayStatus
    referral_id: str | None = Field(description="The new step's referral, if it opened.")


class PathwayCompleted(PathwayIds):
    steps: int


class CredentialCreated(EventData):
    profile_id: str


class CredentialStatusChanged(CredentialCreated):
    from_: CredentialStatus = Field(alias="from")
    to: CredentialStatus
    action: CredentialAction
    kind: str = Field(description="The credential kind, e.g. `academic_degree`.")
    field_isced: str | None = Field(description="ISCED-F 2013 field code.")


VacancyStatus = Literal["open", "filled", "closed"]


class VacancyData(EventData):
    external_id: str | None = Field(description="The employment service's own id.")
    occupation_isco: str = Field(description="ISCO-08 unit group (4 digits).")
    country: str
    region: str
    status: VacancyStatus
    openings: int
    openings_remaining: int
    valid_until: str = Field(description="Last day it is open (ISO date, the country's day).")


class VacancyUpdated(VacancyData):
    changed_fields: list[str]


class VacancyClosed(VacancyData):
    reason: Literal["withdrawn", "expired"] = Field(
        description="Withdrawn by its employment service, or past `valid_until`.")


class DocumentRecorded(EventData):
    profile_id: str
    document_type: str = Field(description="The document type, e.g. `pe_cpp`.")
    expiry_date: date | None
    authorises_work: bool = Field(description="Whether the work-authorisation rules say this type authorises work in the deployment's country (not the caseworker's recorded flag).")  # noqa: E501


class DocumentExpiry(DocumentRecorded):
    days_left: int = Field(description="Days from the country's today to the expiry date (negative once expired).")  # noqa: E501
    horizon_days: int | None = Field(description="The horizon reached (60, 30, 7 by default); null for `document.expired`.")  # noqa: E501
    country: Literal["PE", "EC"] = Field(description="Whose day boundaries count.")


class EndpointDisabled(EventData):
    reason: str = Field(description="Why the gateway stopped delivering to the endpoint.")


class TestPing(EventData):
    subscription_id: str


@dataclass(frozen=True)
class EventType:
    """One published event type. ``in_feed``: it enters the ordered feed and can be
    subscribed to (``webhook.test`` is only sent to the subscription that asked for it)."""

    name: str
    version: int
    subject_type: str
    description: str
    data: type[EventData]
    in_feed: bool = True


def _t(name: str, subject: str, description: str, data: type[EventData] = NoData,
       in_feed: bool = True) -> EventType:
    return EventType(name, 1, subject, description, data, in_feed)


CATALOGUE: tuple[EventType, ...] = (
    _t("profile.created", "profile", "A person was registered."),
    _t("profile.updated", "profile", "A profile changed (rectified, consents, merge).",
       ProfileUpdated),
    _t("profile.merged", "profile", "A duplicate profile was merged into another.",
       ProfileMerged),
    _t("profile.erased", "profile",
       "The person cancelled their data (ARCO): every service pseudonymises them."),
    _t("profile.transfer_prepared", "profile",
       "A portable record was prepared for another country's deployment (issue 21).",
       TransferPrepared),
    _t("profile.transferred_in", "profile",
       "A person's portable record from another country's deployment was imported.",
       TransferredIn),
    _t("consent.granted", "profile", "The person granted a consent.", ConsentChange),
    _t("consent.withdrawn", "profile", "The person withdrew a consent.", ConsentChange),
    _t("referral.created", "referral", "A referral was made to a provider.", ReferralCreated),
    _t("referral.status_changed", "referral", "A referral moved (accept, start, complete…).",
       ReferralStatusChanged),
    _t("referral.overdue", "referral",
       "A referral passed its acceptance or completion deadline (once per deadline).",
       ReferralOverdue),
    _t("referral.at_risk", "referral",
       "An open referral that needs a valid work authorisation was flagged at risk (the "
       "person's lapsed), or the flag cleared (a new work-authorising document recorded).",
       ReferralAtRisk),
    _t("pathway.advanced", "pathway", "A pathway started or moved to its next step.",
       PathwayAdvanced),
    _t("pathway.completed", "pathway", "Every step of a pathway was completed.",
       PathwayCompleted),
    _t("credential.created", "credential", "A credential was recorded for a person.",
       CredentialCreated),
    _t("credential.status_changed", "credential",
       "A credential's verification state changed.", CredentialStatusChanged),
    _t("credential.revoked", "credential",
       "A credential was revoked (also announced as credential.status_changed).",
       CredentialStatusChanged),
    _t("vacancy.created", "vacancy", "A public employment service posted a vacancy.",
       VacancyData),
    _t("vacancy.updated", "vacancy",
       "A vacancy changed (edited, synced, or an opening filled by a placement).",
       VacancyUpdated),
    _t("vacancy.filled", "vacancy", "Placements took every opening of a vacancy.",
       VacancyData),
    _t("vacancy.closed", "vacancy", "A vacancy was withdrawn or passed its last day.",
       VacancyClosed),
    _t("document.recorded", "document",
       "A document was added to an existing profile, or its expiry date changed.",
       DocumentRecorded),
    _t("document.expiring", "document",
       "A work-authorising document reached an expiry horizon (once per document, expiry "
       "date and horizon).", DocumentExpiry),
    _t("document.expired", "document",
       "A work-authorising document lapsed (once per document and expiry date).",
       DocumentExpiry),
    _t("webhook.endpoint_disabled", "webhook_subscription",
       "An endpoint kept failing and was disabled; its owner can re-enable it.",
       EndpointDisabled),
    _t("webhook.test", "webhook_subscription",
       "A test ping (POST /v1/webhook-subscriptions/{id}/test); never in the feed.",
       TestPing, in_feed=False),
)
BY_NAME: dict[str, EventType] = {t.name: t for t in CATALOGUE}
FEED_TYPES: frozenset[str] = frozenset(t.name for t in CATALOGUE if t.in_feed)


def _const(value: str) -> Any:
    """``Literal[value]`` for a value known at run time (JSON Schema ``const``)."""
    return cast(Any, Literal)[value]


def _pascal(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace(".", "_").split("_"))


def feed_item_model(t: EventType) -> type[BaseModel]:
    """The event as ``GET /v1/events`` lists it."""
    return create_model(
        f"{_pascal(t.name)}Event", position=(int, ...), event_id=(str, ...),
        type=(_const(t.name), ...), occurred_at=(datetime, ...),
        subject_type=(_const(t.subject_type), ...), subject_id=(str, ...),
        subject_version=(int | None, ...), organisation_id=(str | None, ...),
        regions=(list[str], ...), data=(t.data, ...))


def delivery_model(t: EventType) -> type[BaseModel]:
    """The body a webhook subscriber receives (Standard Webhooks: ``type``, ``timestamp``,
    ``data``): the event's ids beside its own fields in ``data``."""
    data: type[BaseModel] = t.data
    if t.in_feed:
        data = create_model(
            f"{_pascal(t.name)}DeliveryData", __base__=t.data, event_id=(str, ...),
            position=(int | None, ...), subject_type=(_const(t.subject_type), ...),
            subject_id=(str, ...), subject_version=(int | None, ...),
            organisation_id=(str | None, ...), regions=(list[str], ...))
    return create_model(f"{_pascal(t.name)}Delivery", type=(_const(t.name), ...),
                        timestamp=(datetime, ...), data=(data, ...))


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with every ``$ref`` replaced by its definition, so it stands
    alone wherever it is published."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def describe(t: EventType) -> dict[str, Any]:
    """A catalogue entry as ``GET /v1/event-types`` answers it: ``schema`` is the event as
    the feed lists it (for a type never in the feed, its delivery), ``webhook_schema`` the body
    a subscriber receives."""
    return {"name": t.name, "version": t.version, "subject_type": t.subject_type,
            "description": t.description, "in_feed": t.in_feed,
            "schema": inline_schema(feed_item_model(t) if t.in_feed else delivery_model(t)),
            "webhook_schema": inline_schema(delivery_model(t))}
