"""Regressions of faults contract fuzzing (make fuzz, bench/fuzz.py) found: the OpenAPI
declares what the API really answers, and the API answers what it declares."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS]


async def test_every_declared_validation_error_is_a_problem(client: httpx.AsyncClient) -> None:
    # was: FastAPI's default 422 (application/json, HTTPValidationError) on every operation,
    # while the API answers application/problem+json
    doc = (await client.get("/openapi.json")).json()
    for path, method, op in _operations(doc):
        if path == "/oauth/token":  # RFC 6749 errors, on purpose
            assert "application/json" in op["responses"]["400"]["content"]
            continue
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert set(response.get("content", {})) == {"application/problem+json"}, \
                    (method, path, status)


async def test_front_door_statuses_are_declared(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for path, method, op in _operations(doc):
        declared = set(op["responses"])
        assert {"429", "431"} <= declared, (method, path)
        if op.get("requestBody"):
            assert {"400", "413", "422"} <= declared, (method, path)
        if op.get("security", doc["security"]):
            assert {"401", "403"} <= declared, (method, path)
    metrics = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


@pytest.mark.invalid_request
async def test_unreadable_body_is_a_declared_400_problem(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    resp = await client.post("/v1/profiles", content=b"\xff\xfe-\x80",
                             headers=auth(**{"Content-Type": "application/json"}))
    assert resp.status_code in (400, 422)
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = (await client.get("/openapi.json")).json()
    assert str(resp.status_code) in doc["paths"]["/v1/profiles"]["post"]["responses"]


async def test_create_operations_link_to_what_they_created(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    links = doc["paths"]["/v1/profiles"]["post"]["responses"]["201"]["links"]
    assert links["GetProfile"]["parameters"] == {"profile_id": "$response.body#/id"}
    assert links["GetProfile"]["operationRef"] == "#/paths/~1v1~1profiles~1{profile_id}/get"
    assert "GetReferral" in doc["paths"]["/v1/referrals"]["post"]["responses"]["201"]["links"]


async def test_empty_if_match_on_optional_precondition_is_no_precondition(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    # was: 428 (undeclared) for an empty If-Match on consent withdrawal, whose If-Match is
    # optional
    body = profile_payload(consents=[{"purpose": "referral", "status": "granted",
                                      "recipient_organisation_id": "mtpe-empleo",
                                      "evidence": "written"}])
    created = await client.post("/v1/profiles", json=body, headers=auth())
    assert created.status_code == 201, created.text
    url = f"/v1/profiles/{created.json()['id']}"
    consent = (await client.get(f"{url}/consents", headers=auth())).json()["items"][0]
    resp = await client.post(f"{url}/consents/{consent['id']}/withdraw",
                             headers=auth(**{"If-Match": ""}))
    assert resp.status_code == 200, resp.text


async def test_bulk_items_are_documented_as_validated_one_by_one(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    # was: the schema said every item is a valid ProfileCreate, but an invalid item is (by
    # contract) a per-item "invalid" result in a 200, so the document contradicted the API
    doc = (await client.get("/openapi.json")).json()
    schema = doc["components"]["schemas"]["Registry_BulkIn"]["properties"]["items"]["items"]
    assert {"type": "object"} in schema["anyOf"]
    resp = await client.post("/v1/profiles/bulk", json={"items": [{"given_names": "x"}]},
                             headers=auth())
    assert resp.status_code == 200
    assert resp.json()["results"][0]["status"] == "invalid"


@pytest.mark.invalid_request
async def test_date_filters_take_iso_dates_only(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    # was: ?registered_to=0 answered 200 (pydantic read 0 as a Unix time)
    h = auth("coordinator")
    bad = await client.get("/v1/profiles/statistics", params={"registered_to": "0"}, headers=h)
    assert bad.status_code == 422, bad.text
    good = await client.get("/v1/profiles/statistics", params={"registered_to": "2026-01-31"},
                            headers=h)
    assert good.status_code == 200, good.text


async def test_gateway_datetimes_carry_their_offset(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    # was: on SQLite, created_at of webhook subscriptions went out naive ("...T15:07:48.3"),
    # not the RFC 3339 date-time the schema declares
    h = auth("ngo_partner")
    made = await client.post("/v1/webhook-subscriptions", headers=h, json={
        "url": "https://example.org/hooks", "event_types": ["referral.created"]})
    assert made.status_code == 201, made.text
    for item in (await client.get("/v1/webhook-subscriptions", headers=h)).json():
        created = item["created_at"]
        assert created.endswith(("Z", "+00:00")), created
