"""The profile read's fast lane (docs/decisions/0018): ``GET /v1/profiles/{id}`` with a
canonical id, matched before FastAPI's router and served by the same route function.

The profile read is the call made most (45% of the mix). Through FastAPI's router it walked
the included routers (each match moves route contexts in and out of the scope) and solved its
dependencies: together about a fifth of the embedded read's CPU (py-spy, 2026-12-05), for a
route whose one parameter is an id and whose one dependency is :class:`api.Reader`.

The lane is a Starlette route placed first in the app's routes. It matches only a GET of a
canonical (lowercase, hyphenated) UUID, which no static path under ``/v1/profiles`` is, and
calls :func:`api.get_profile` with :func:`api.get_reader`'s reader: the same use case, the
same response, and errors raised into the same exception handlers (Starlette's route wraps
its endpoint as FastAPI's does). Anything else — another method, an id in another form, a
malformed one — does not match and goes to the documented route, which answers as before.
The lane is not in the OpenAPI document; the documented route is.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from services.registry.api import get_profile, get_reader

PATH = "/v1/profiles/{profile_id}"  # the documented route's template (metrics, traces)
CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def _read(request: Request) -> Response:
    return await get_profile(request.path_params["profile_id"], await get_reader(request))


class ProfileReadLane(Route):
    def __init__(self) -> None:
        super().__init__(PATH, endpoint=_read, methods=["GET"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET":
            return Match.NONE, {}  # HEAD too: the documented route answers it (405)
        match, child = super().matches(scope)
        if match is not Match.FULL or not CANONICAL_ID.fullmatch(
                child["path_params"]["profile_id"]):
            return Match.NONE, {}
        child["route"] = self  # as FastAPI's routes do: its template names the request
        return match, child


def _routes(routes: list[Any]) -> Any:
    for route in routes:
        yield route
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            yield from _routes(inner.routes)


def install_fast_lane(app: FastAPI) -> None:
    """The lane first in ``app``'s routes, beside the documented route it shortens."""
    if not any(getattr(r, "endpoint", None) is get_profile and r.path == PATH
               for r in _routes(app.routes)):
        raise RuntimeError(f"the fast lane needs the documented GET {PATH}")
    app.router.routes.insert(0, ProfileReadLane())
