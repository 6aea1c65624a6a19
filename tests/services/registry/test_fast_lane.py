"""The profile read's fast lane (services/registry/fast_lane.py): it takes a GET of a
canonical id only, answers exactly what the documented route answers — every status, header
and byte — and leaves everything else, and the OpenAPI document, to the documented route."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from gateway.edge.upstreams import ASGIUpstream
from services.registry.fast_lane import ProfileReadLane
from tests.support.registry import SENSITIVE, WRITTEN_SENSITIVE_CONSENT, create, share
from tests.support.tokens import TokenFactory

UNSTABLE = {"x-request-id", "date", "ratelimit"}  # ratelimit: what is left, one less


def registry_app(app: FastAPI) -> FastAPI:
    """The registry app the embedded front door hands its requests to."""
    upstream = app.state.upstreams["registry"]
    assert isinstance(upstream, ASGIUpstream)
    return upstream.app


def the_lane(reg: FastAPI) -> ProfileReadLane:
    """The lane in the registry app's built stack: right under the request context."""
    if reg.middleware_stack is None:
        reg.middleware_stack = reg.build_middleware_stack()
    layer: Any = reg.middleware_stack
    above = []
    while not isinstance(layer, ProfileReadLane):
        above.append(type(layer).__name__)
        layer = layer.app
    assert above[-1] == "RequestContextMiddleware", above
    assert type(layer.app).__name__ == "ExceptionMiddleware"
    return layer


@pytest.fixture
def lane(app: FastAPI) -> Iterator[dict[str, Any]]:
    """The registry's lane, counting the requests it takes; ``off()`` / ``on()`` send every
    request to the router and back."""
    found = the_lane(registry_app(app))
    taken = []
    plain = ProfileReadLane.takes

    def counting(scope: Any) -> str | None:
        profile_id = plain(found, scope)
        if profile_id is not None:
            taken.append(scope["path"])
        return profile_id

    found.takes = counting  # type: ignore[method-assign]
    state = {"taken": taken,
             "off": lambda: setattr(found, "enabled", False),
             "on": lambda: setattr(found, "enabled", True)}
    yield state
    found.enabled = True
    del found.takes


def seen(resp: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    return (resp.status_code,
            {k: v for k, v in resp.headers.items() if k not in UNSTABLE}, resp.content)


async def test_the_lane_answers_what_the_documented_route_answers(
        client: httpx.AsyncClient, auth: TokenFactory, lane: dict[str, Any]) -> None:
    mine = await create(client, auth(permissions=["sensitive:read"]), sensitive=SENSITIVE,
                        consents=[WRITTEN_SENSITIVE_CONSENT])
    shared = await create(client, auth(), given_names="Ana")
    await share(client, auth, shared["id"], "mtpe-empleo")
    survivor = await create(client, auth(), given_names="Rosa")
    duplicate = await create(client, auth(), given_names="Rosa María",
                             documents=[{"type": "pe_cpp", "number": "001234567"}])
    merged = await client.post(f"/v1/profiles/{survivor['id']}/merge",
                               json={"duplicate_id": duplicate["id"]},
                               headers=auth(**{"If-Match": survivor["_etag"]}))
    assert merged.status_code == 200, merged.text
    erased = await create(client, auth(), given_names="Luz")
    gone = await client.delete(f"/v1/profiles/{erased['id']}",
                               headers=auth("coordinator", **{"If-Match": erased["_etag"]}))
    assert gone.status_code == 204, gone.text

    cases = [
        (mine["id"], auth()),                                   # the owner: 200
        (mine["id"], auth(permissions=["sensitive:read"])),     # with sensitive data
        (shared["id"], auth("provider", org="mtpe-empleo")),    # shared by consent
        (mine["id"], auth(org="ong-quito")),                    # another organisation: 404
        (mine["id"], auth(regions=["PE-ARE"])),                 # another region: 404
        (mine["id"], auth("ngo_partner", org="ong-quito")),     # a partner elsewhere: 404
        (duplicate["id"], auth()),                              # merged: 308 to the survivor
        (erased["id"], auth()),                                 # erased
        (str(uuid.uuid4()), auth()),                            # nobody: 404
        (mine["id"], {}),                                       # no token: 401
    ]
    statuses = []
    for pid, headers in cases:
        lane["taken"].clear()
        fast = await client.get(f"/v1/profiles/{pid}", headers=headers)
        assert lane["taken"] == ([f"/v1/profiles/{pid}"] if headers else [])
        lane["off"]()
        try:
            documented = await client.get(f"/v1/profiles/{pid}", headers=headers)
        finally:
            lane["on"]()
        assert seen(fast) == seen(documented), pid
        statuses.append(fast.status_code)
    assert statuses == [200, 200, 200, 404, 404, 404, 308, statuses[7], 404, 401]
    assert statuses[7] in (404, 410)
    assert "gender_based_violence" in (await client.get(
        f"/v1/profiles/{mine['id']}", headers=auth(permissions=["sensitive:read"]))).text


@pytest.mark.parametrize(("method", "path", "takes"), [
    ("GET", "/v1/profiles/0b8f0c36-5f0e-4a43-9d6f-5a8e2f5d1c2a", True),
    ("HEAD", "/v1/profiles/0b8f0c36-5f0e-4a43-9d6f-5a8e2f5d1c2a", False),
    ("PATCH", "/v1/profiles/0b8f0c36-5f0e-4a43-9d6f-5a8e2f5d1c2a", False),
    ("GET", "/v1/profiles/0B8F0C36-5F0E-4A43-9D6F-5A8E2F5D1C2A", False),  # not canonical
    ("GET", "/v1/profiles/0b8f0c365f0e4a439d6f5a8e2f5d1c2a", False),
    ("GET", "/v1/profiles/0b8f0c36-5f0e-4a43-9d6f-5a8e2f5d1c2a0", False),
    ("GET", "/v1/profiles/statistics", False),
    ("GET", "/v1/profiles/duplicates", False),
    ("GET", "/v1/profiles/0b8f0c36-5f0e-4a43-9d6f-5a8e2f5d1c2a/consents", False),
    ("GET", "/v1/profiles/", False),
])
def test_the_lane_takes_a_get_of_a_canonical_id_only(method: str, path: str,
                                                      takes: bool) -> None:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    lane = ProfileReadLane(app=None, route=None)  # type: ignore[arg-type]
    assert (lane.takes(scope) is not None) is takes
    mounted = {**scope, "root_path": "/ruta", "path": "/ruta" + path}
    assert (lane.takes(mounted) is not None) is takes


@pytest.mark.invalid_request  # HEAD, an id in another form, a control character
async def test_what_the_lane_leaves_is_answered_as_before(
        client: httpx.AsyncClient, auth: TokenFactory, lane: dict[str, Any]) -> None:
    p = await create(client, auth())
    assert (await client.head(f"/v1/profiles/{p['id']}", headers=auth())).status_code == 405
    upper = await client.get(f"/v1/profiles/{p['id'].upper()}", headers=auth())
    assert upper.status_code == 404
    assert upper.headers["content-type"] == "application/problem+json"
    bad = await client.get("/v1/profiles/%0Aabc", headers=auth())
    assert bad.status_code == 404
    assert bad.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/profiles/statistics", headers=auth("coordinator"))
            ).status_code == 200
    assert lane["taken"] == []


async def test_the_lane_is_counted_under_the_documented_template_and_not_documented(
        app: FastAPI, client: httpx.AsyncClient, auth: TokenFactory,
        lane: dict[str, Any]) -> None:
    p = await create(client, auth())
    labels = {"service": "gateway", "method": "GET", "route": "/v1/profiles/{profile_id}",
              "status": "200"}
    before = REGISTRY.get_sample_value("ruta_http_requests_total", labels) or 0.0
    assert (await client.get(f"/v1/profiles/{p['id']}", headers=auth())).status_code == 200
    assert lane["taken"] == [f"/v1/profiles/{p['id']}"]
    assert REGISTRY.get_sample_value("ruta_http_requests_total", labels) == before + 1

    operations = (await client.get("/openapi.json")).json()["paths"]["/v1/profiles/{profile_id}"]
    assert operations["get"]["operationId"] == "profiles_read"
    assert len(registry_app(app).openapi()["paths"]["/v1/profiles/{profile_id}"]) == len(
        operations)
