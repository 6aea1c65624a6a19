"""The event catalogue as an integrator reads it: GET /v1/event-types and the OpenAPI 3.1
webhooks section, both naming every type with its schema."""

from __future__ import annotations

import httpx
import jsonschema
from openapi_spec_validator import validate

from shared.event_types import BY_NAME
from tests.support.tokens import TokenFactory


async def test_any_authenticated_caller_reads_the_types_with_versions_and_schemas(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    assert (await client.get("/v1/event-types")).status_code == 401
    for role in ("caseworker", "provider", "ministry_system"):
        resp = await client.get("/v1/event-types", headers=auth(role))
        assert resp.status_code == 200, resp.text
    items = {t["name"]: t for t in resp.json()["items"]}
    assert set(items) == set(BY_NAME)
    changed = items["referral.status_changed"]
    assert changed["version"] == 1 and changed["description"]
    data = changed["schema"]["properties"]["data"]
    assert {"from", "to", "action"} <= set(data["required"])
    assert "accept" in data["properties"]["action"]["enum"]
    # a feed item an integrator receives validates against the published schema
    jsonschema.validate({
        "position": 1, "event_id": "e", "type": "profile.updated",
        "occurred_at": "2026-11-20T10:00:00Z", "subject_type": "profile", "subject_id": "p",
        "subject_version": 2, "organisation_id": "ong-lima", "regions": ["PE-LMA"],
        "data": {"changed_fields": ["phone"]}}, items["profile.updated"]["schema"])
    ping = items["webhook.test"]
    assert ping["in_feed"] is False
    assert ping["webhook_schema"]["properties"]["data"]["required"] == ["subscription_id"]


async def test_the_openapi_document_has_one_webhook_per_event_type(
    client: httpx.AsyncClient
) -> None:
    doc = (await client.get("/openapi.json")).json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert set(doc["webhooks"]) == set(BY_NAME)
    created = doc["webhooks"]["referral.created"]["post"]
    headers = {p["name"] for p in created["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    body = created["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["type"]["const"] == "referral.created"
    assert {"event_id", "subject_id", "status", "profile_id"} <= set(
        body["properties"]["data"]["properties"])
    ids = [w["post"]["operationId"] for w in doc["webhooks"].values()]
    assert len(set(ids)) == len(ids)
    listed = doc["paths"]["/v1/event-types"]["get"]
    assert listed["operationId"] == "event_types_list" and listed["description"]
