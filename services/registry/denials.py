"""The one place where a refused person becomes an access-denial record: the registry's
handler of :class:`ProfileNotFound`, whichever route raised it.

It answers the 404 exactly as the shared handler does, then records the denial in a
background task, that is after the response has been sent, for an id that exists and one
that does not alike: the same single statement (usecases.denials.record_denial), run after
the answer, so the 404 costs the caller the same whether the person exists. What is
recorded is the route's template (``/v1/profiles/{profile_id}/consents``), the method and
who called; never the path's query, the body, or anything the caller sent.

A denial that cannot be written (the database gone) is logged without ids and dropped: the
caller already has their 404, and the audit must never turn it into a 500.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request, Response
from starlette.background import BackgroundTask

from services.registry.errors import ProfileNotFound
from services.registry.usecases.denials import record_denial
from shared.db import Database
from shared.errors import Unauthenticated, render_error
from shared.identity import Identity, current_identity
from shared.metrics import ACCESS_DENIED

log = structlog.get_logger("ruta.registry.denials")


async def _record(db: Database, identity: Identity, profile_id: str, route: str,
                  method: str) -> None:
    try:
        await record_denial(db=db, identity=identity, profile_id=profile_id, route=route,
                            method=method)
    except Exception as exc:  # an audit write never fails the request it audits
        log.warning("access_denial_not_recorded", exc_type=type(exc).__name__, route=route)


async def profile_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProfileNotFound)
    response = render_error(exc)
    route = getattr(request.scope.get("route"), "path", None)
    profile_id = exc.profile_id or request.path_params.get("profile_id")
    if route:
        ACCESS_DENIED.labels("registry", route).inc()
    if not route or not profile_id:
        return response
    try:
        identity = await current_identity(request)
    except Unauthenticated:
        return response
    response.background = BackgroundTask(_record, request.app.state.db, identity,
                                         str(profile_id), route, request.method)
    return response


def install_denial_audit(app: FastAPI) -> None:
    """Handle ProfileNotFound (before the shared AppError handler, as the more specific)."""
    app.add_exception_handler(ProfileNotFound, profile_not_found)
