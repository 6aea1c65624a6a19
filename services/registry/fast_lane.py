"""The profile read's fast lane (docs/decisions/0018, 0021): ``GET /v1/profiles/{id}`` with
a canonical id, taken by an ASGI layer right under the request context and served by the
documented route's own function.

The profile read is the call made most (45% of the mix). Through FastAPI's router it walked
the included routers (each match moves route contexts in and out of the scope) and solved its
dependencies: together about a fifth of the embedded read's CPU (py-spy, 2026-12-05). A first
lane was a Starlette route placed first in the routes; it still passed Starlette's exception
layer, FastAPI's exit-stack layer, the router and the route's request/response wrappers, each
one more frame to resume at every await and one more wrapper around ``send``: 17% of the
registry's CPU per distributed read (py-spy, 2026-12-05). This layer sits where the
exception layer is entered and does what those layers did for this one route:

- it matches only a GET of a canonical (lowercase, hyphenated) UUID, which no static path
  under ``/v1/profiles`` is; anything else — another method (HEAD too: the documented route
  answers 405), an id in another form, a malformed one — goes on to the router as before;
- it puts in the scope what the router would: the documented route (its template names the
  request in metrics, traces and the access-denial audit) and the path parameter;
- it calls :func:`api.get_profile` with :func:`api.get_reader`'s reader: the same use case
  and the same response;
- an exception goes to the handler the app's exception layer would pick (the same lookup:
  by status for an HTTPException, else by class), so every error answers as before;
  one without a handler goes up to the 500 layer.

The lane is not in the OpenAPI document; the documented route is.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from services.registry.api import get_profile, get_reader

PATH = "/v1/profiles/{profile_id}"  # the documented route's template
PREFIX = "/v1/profiles/"
CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def route_path(scope: Scope) -> str:
    """The path the router matches: without the app's root path (as Starlette's own)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root + "/") else path


class ProfileReadLane:
    """The lane as an ASGI layer over ``app`` (the app's exception layer). ``enabled``
    lets a test compare it with the documented route."""

    def __init__(self, app: ASGIApp, route: BaseRoute) -> None:
        self.app = app
        self.route = route
        self.enabled = True
        self._handlers: ExceptionMiddleware | None = None

    def takes(self, scope: Scope) -> str | None:
        """The profile id when the request is the lane's, else None."""
        if not self.enabled or scope["type"] != "http" or scope["method"] != "GET":
            return None
        path = route_path(scope)
        if len(path) != len(PREFIX) + 36 or not path.startswith(PREFIX):
            return None
        profile_id = path[len(PREFIX):]
        return profile_id if CANONICAL_ID.fullmatch(profile_id) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        profile_id = self.takes(scope)
        if profile_id is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        scope["path_params"] = {"profile_id": profile_id}
        request = Request(scope, receive, send)
        try:
            response = await get_profile(profile_id, await get_reader(request))
        except Exception as exc:
            handler = self._handler(scope["app"], exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, app: FastAPI, exc: Exception) -> Any:
        """The handler the app's exception layer would choose (Starlette's lookup), from
        the app's handlers as they are once the app serves."""
        if self._handlers is None:
            self._handlers = ExceptionMiddleware(self.app, handlers=app.exception_handlers)
        handlers = self._handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers._status_handlers:
            return handlers._status_handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in handlers._exception_handlers:
                return handlers._exception_handlers[cls]
        return None


def _routes(routes: list[Any]) -> Any:
    for route in routes:
        yield route
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            yield from _routes(inner.routes)


def install_fast_lane(app: FastAPI) -> None:
    """The lane as the innermost of the app's own layers: under the request context (and
    the 500 layer), over the exception layer and the router."""
    documented = [r for r in _routes(app.routes)
                  if getattr(r, "endpoint", None) is get_profile and r.path == PATH]
    if not documented:
        raise RuntimeError(f"the fast lane needs the documented GET {PATH}")
    app.user_middleware.append(Middleware(ProfileReadLane, route=documented[0]))
