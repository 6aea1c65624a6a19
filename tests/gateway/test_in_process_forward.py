"""In one process the front door hands a request to the service's stack below the layers its
own app already ran (gateway/edge/upstreams.py ``inner_stack``): the service's exception
handlers still answer its errors, an unhandled one is still a 500 problem with the request id
and no detail, and the request is still counted under the service's template."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import REGISTRY
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware

from gateway.edge.upstreams import inner_stack
from services.registry.fast_lane import ProfileReadLane
from shared.errors import Conflict
from shared.observability import RequestContextMiddleware
from tests.support.logs import production_logs, served
from tests.support.tokens import TokenFactory

SECRET = "Yuleisy Peña V-12345678"


async def _boom() -> None:
    raise RuntimeError(SECRET)


async def _refused() -> None:
    raise Conflict()


def count(route: str, status: str) -> float:
    return REGISTRY.get_sample_value("ruta_http_requests_total", {
        "service": "gateway", "method": "GET", "route": route, "status": status}) or 0.0


def test_the_forward_skips_only_the_layers_the_gateway_ran(app: FastAPI) -> None:
    service = app.state.upstreams["registry"].app
    stack = service.build_middleware_stack()
    assert isinstance(stack, ServerErrorMiddleware)
    inner = inner_stack(service)
    # the service's own 500 handler, then its profile-read lane (services/registry/
    # fast_lane.py) and its exception handlers: the problems it answers
    assert isinstance(inner, ServerErrorMiddleware) and inner.handler is stack.handler
    assert isinstance(inner.app, ProfileReadLane)
    assert isinstance(inner.app.app, ExceptionMiddleware)
    layer = service.middleware_stack.app
    skipped = []
    while layer is not inner.app:
        skipped.append(type(layer).__name__)
        layer = layer.app
    assert skipped == ["ExceptionTelemetryMiddleware", RequestContextMiddleware.__name__]


async def test_errors_of_a_service_in_process_are_problems_counted_under_its_template(
        app: FastAPI, auth: TokenFactory) -> None:
    service = app.state.upstreams["registry"].app
    service.router.routes[0:0] = [APIRoute("/v1/profiles/x/boom", _boom),
                                  APIRoute("/v1/profiles/x/refused", _refused)]
    boom_before = count("/v1/profiles/x/boom", "500")
    refused_before = count("/v1/profiles/x/refused", "409")
    with production_logs() as logs:
        async with served(app) as url, httpx.AsyncClient(base_url=url) as client:
            boom = await client.get("/v1/profiles/x/boom", headers=auth())
            refused = await client.get("/v1/profiles/x/refused", headers=auth())
    assert boom.status_code == 500
    assert boom.headers["content-type"] == "application/problem+json"
    assert boom.json()["status"] == 500 and SECRET not in boom.text
    assert boom.headers["x-request-id"] in logs.getvalue()
    assert SECRET not in logs.getvalue()
    assert refused.status_code == 409  # the service's own handler of its AppError
    assert refused.headers["content-type"] == "application/problem+json"
    assert count("/v1/profiles/x/boom", "500") == boom_before + 1
    assert count("/v1/profiles/x/refused", "409") == refused_before + 1
