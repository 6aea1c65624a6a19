"""Every request is counted under its route template: the gateway's own routes too, and a
forwarded request under the service's template, never the gateway's prefix pattern."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.operations.metrics_support import sample
from tests.support.tokens import TokenFactory

REQUESTS = "ruta_http_requests_total"


@pytest.mark.invalid_request
async def test_gateway_routes_are_labelled_by_template(client: httpx.AsyncClient) -> None:
    before = {r: sample(REQUESTS, service="gateway", method="GET", route=r, status="200")
              for r in ("/healthz", "/.well-known/jwks.json")}
    token_before = sample(REQUESTS, service="gateway", method="POST", route="/oauth/token",
                          status="400")
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/.well-known/jwks.json")).status_code == 200
    refused = await client.post("/oauth/token", data={"grant_type": "password"})
    assert refused.status_code == 400
    for route, value in before.items():
        assert sample(REQUESTS, service="gateway", method="GET", route=route,
                      status="200") == value + 1, route
    assert sample(REQUESTS, service="gateway", method="POST", route="/oauth/token",
                  status="400") == token_before + 1


async def test_forwarded_route_is_labelled_by_the_service_template(
        client: httpx.AsyncClient, auth: TokenFactory) -> None:
    labels = {"service": "gateway", "method": "GET", "route": "/v1/profiles/{profile_id}",
              "status": "404"}
    before = sample(REQUESTS, **labels)
    missing = await client.get(f"/v1/profiles/{uuid.uuid4()}", headers=auth())
    assert missing.status_code == 404
    assert sample(REQUESTS, **labels) == before + 1
    assert sample(REQUESTS, service="gateway", method="GET",
                  route="/v1/profiles/{rest:path}", status="404") == 0
    assert "x-ruta-route" not in missing.headers


async def test_a_request_refused_before_forwarding_is_labelled_by_the_service_template(
        client: httpx.AsyncClient) -> None:
    """A 401 at the front door never reached the service, yet is counted under the template
    the service would have matched (from its published paths), not the route-table prefix."""
    labels = {"service": "gateway", "method": "GET", "route": "/v1/profiles/{profile_id}",
              "status": "401"}
    before = sample(REQUESTS, **labels)
    refused = await client.get(f"/v1/profiles/{uuid.uuid4()}")
    assert refused.status_code == 401
    assert sample(REQUESTS, **labels) == before + 1
    search = {**labels, "route": "/v1/profiles/statistics"}
    before_search = sample(REQUESTS, **search)
    assert (await client.get("/v1/profiles/statistics")).status_code == 401
    assert sample(REQUESTS, **search) == before_search + 1
