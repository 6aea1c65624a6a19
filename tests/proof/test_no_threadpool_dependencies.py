"""Regression of what profiling `make bench` found: plain ``def`` dependencies (database,
identity, cipher, If-Match...) made FastAPI hop to its thread pool several times per request
(~6% of the embedded profile read's CPU, and a queue under load). The hot services' and the
gateway's dependencies are coroutines."""

from __future__ import annotations

import inspect

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def _sync_dependencies(dependant: Dependant) -> set[str]:
    out = set()
    for dep in dependant.dependencies:
        call = dep.call
        if call is not None and not (inspect.iscoroutinefunction(call)
                                     or inspect.isasyncgenfunction(call)
                                     or inspect.isgeneratorfunction(call)):
            out.add(getattr(call, "__qualname__", repr(call)))
        out |= _sync_dependencies(dep)
    return out


def _check(app: FastAPI) -> set[str]:
    found: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute):
            found |= _sync_dependencies(route.dependant)
    return found


async def test_registry_credentials_and_gateway_dependencies_are_async(app: FastAPI) -> None:
    assert _check(app) == set(), "the gateway's own routes"
    for name in ("registry", "credentials"):
        service: FastAPI = app.state.upstreams[name].app
        assert _check(service) == set(), name
