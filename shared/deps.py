"""The FastAPI dependencies every service's routes take, as ``Annotated`` aliases.

Dependencies are ``async def`` even when trivial: FastAPI runs a plain ``def`` dependency in
its thread pool, a thread hop per dependency per request (measured by make bench). The
database is handed to the use case, which opens its own unit of work: no session is opened
by a dependency (a ``yield`` dependency cost a 400-550 ms p99 tail).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from shared.db import Database
from shared.idempotency import IdempotencyKey
from shared.identity import CurrentIdentity
from shared.pagination import CursorCodec
from shared.peers import Peers
from shared.settings import Settings

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: Any) -> Any:
    # pydantic's lax mode reads ``0`` or ``1700000000`` as a date (a Unix time): a filter
    # must be an ISO 8601 calendar date or a 422, as the OpenAPI says
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("expected an ISO 8601 date (YYYY-MM-DD)")
    return value


# The dates a filter may name: the route's records start long after the first and end long
# before the last; outside them a period overflows date arithmetic (to + 1 day) instead of
# meaning anything.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def _within_bounds(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"date outside {EARLIEST_DATE.isoformat()}..{LATEST_DATE.isoformat()}")
    return value


# A date in a query string: YYYY-MM-DD only, between EARLIEST_DATE and LATEST_DATE (a 422
# naming the parameter otherwise, never a 500).
IsoDate = Annotated[date, BeforeValidator(_iso_date_only), AfterValidator(_within_bounds),
                    WithJsonSchema({"type": "string", "format": "date",
                                    "formatMinimum": EARLIEST_DATE.isoformat(),
                                    "formatMaximum": LATEST_DATE.isoformat()})]


def _rfc3339_only(value: Any) -> Any:
    # a number would be read as a Unix time (``-1060828`` → 1969, found by make fuzz): a
    # date-time in a body is an RFC 3339 string, as the OpenAPI says, or a 422
    if not isinstance(value, (str, datetime)):
        raise ValueError("expected an RFC 3339 date-time string")
    return value


def _datetime_within_bounds(value: datetime) -> datetime:
    _within_bounds(value.date())
    return value


# A date-time in a body: an RFC 3339 string between EARLIEST_DATE and LATEST_DATE.
IsoDateTime = Annotated[datetime, BeforeValidator(_rfc3339_only),
                        AfterValidator(_datetime_within_bounds)]


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_peers(request: Request) -> Peers:
    return request.app.state.peers


async def get_cursors(request: Request) -> CursorCodec:
    return request.app.state.cursors


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CursorsDep = Annotated[CursorCodec, Depends(get_cursors)]
PeersDep = Annotated[Peers, Depends(get_peers)]


IdempotencyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$",
           description="Makes the write safe to retry: the same key and body replay the "
                       "first response for 24 h; the same key with another body is 422; "
                       "while the first is still running, 409."),
]


async def idempotency_for(request: Request, subject: str, key: str | None
                          ) -> IdempotencyKey | None:
    """The caller's key for this write, fingerprinted with method, path and body."""
    if key is None:
        return None
    body = await request.body()
    return IdempotencyKey(
        client_id=subject, key=key,
        fingerprint=IdempotencyKey.fingerprint_of(request.method, request.url.path, body),
    )


async def idempotency_key(request: Request, identity: CurrentIdentity,
                          key: IdempotencyHeader = None) -> IdempotencyKey | None:
    return await idempotency_for(request, identity.subject, key)


Idempotency = Annotated[IdempotencyKey | None, Depends(idempotency_key)]
