"""Idempotent writes: a client's key, the first response stored with the change it made, and
its replay for retries.

The record is written in the business transaction (the unit of work calls :func:`claim` and
:func:`remember`), so a crash leaves neither the change nor the record. Keys are kept
``idempotency_ttl_hours`` (24 h by default, the public contract's minimum).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import as_utc, utcnow
from shared.errors import AppError
from shared.i18n import Text
from shared.metrics import IDEMPOTENCY
from shared.tables import idempotency_records


class IdempotencyInFlight(AppError):
    status = 409
    code = "idempotency-in-flight"
    detail_text = Text(
        "Otra solicitud con la misma Idempotency-Key aún se está procesando; reintente luego.",
        "Another request with the same Idempotency-Key is still being processed; retry later.",
    )


class IdempotencyKeyReused(AppError):
    status = 422
    code = "idempotency-key-reused"
    detail_text = Text(
        "Esta Idempotency-Key ya se usó con otro contenido.",
        "This Idempotency-Key was already used with a different request body.",
    )


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key for one write, with a fingerprint of what it asked for."""

    client_id: str
    key: str
    fingerprint: str

    @staticmethod
    def fingerprint_of(method: str, path: str, body: bytes) -> str:
        h = hashlib.sha256()
        for part in (method.encode(), b"\0", path.encode(), b"\0", body):
            h.update(part)
        return h.hexdigest()

    @property
    def lock_name(self) -> str:
        """One advisory-lock name per (client, key), unambiguous whatever the ids hold."""
        return f"{len(self.client_id)}:{self.client_id}:{self.key}"


@dataclass(frozen=True)
class StoredResponse:
    """The first response to an idempotent write, replayed for its retries."""

    status_code: int
    headers: dict[str, str]
    body: bytes
    replayed: bool = True


# Keys of idempotent writes under way in this process (SQLite runs in one process only):
# (id of the root database, client, key).
_local_inflight: set[tuple[int, str, str]] = set()


class LocalClaims:
    """The keys one unit of work holds on SQLite, released when it ends."""

    def __init__(self, database_id: int) -> None:
        self._database_id = database_id
        self._held: list[tuple[int, str, str]] = []

    def take(self, idem: IdempotencyKey) -> None:
        claim = (self._database_id, idem.client_id, idem.key)
        if claim in _local_inflight:  # its holder has the only connection: no look-up
            raise IdempotencyInFlight()
        _local_inflight.add(claim)
        self._held.append(claim)

    def release(self) -> None:
        for claim in self._held:
            _local_inflight.discard(claim)
        self._held.clear()


async def claim(session: AsyncSession, idem: IdempotencyKey, *, is_postgres: bool,
                local: LocalClaims) -> StoredResponse | None:
    """Take the key for this transaction, or answer the earlier response for it.

    Raises 409 while another request holds the key and nothing is stored for it yet (a retry
    racing another retry of an answered request gets the stored answer), and 422 when the key
    was used for a different body.
    """
    if is_postgres:
        got = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": idem.lock_name})
        if not got:
            # Held by a retry of a request already answered (two retries at once): its stored
            # response stands, and is answered; 409 only while nothing is stored.
            return _replay(await _record(session, idem), idem, in_flight=True)
    else:
        local.take(idem)
    row = await _record(session, idem)
    if row is None:
        return None
    if as_utc(row.expires_at) <= utcnow():
        await session.execute(delete(idempotency_records).where(*_key_is(idem)))
        return None
    return _replay(row, idem)


async def stored(session: AsyncSession, idem: IdempotencyKey) -> StoredResponse | None:
    """The answer already stored for this key (422 when it was for another body), without
    taking the key: a write that reads elsewhere first (a sibling service) answers a retry
    before that work, and takes the key (:func:`claim`) only for its own writes."""
    row = await _record(session, idem)
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return _replay(row, idem)


async def remember(session: AsyncSession, idem: IdempotencyKey | None, *, status_code: int,
                   body: Any, headers: dict[str, str] | None, ttl_hours: int
                   ) -> StoredResponse:
    """Record the response of an idempotent write; returns it ready to send."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    stored = StoredResponse(status_code, dict(headers or {}), raw, replayed=False)
    if idem is not None:
        now = utcnow()
        await session.execute(idempotency_records.insert().values(
            client_id=idem.client_id, key=idem.key, fingerprint=idem.fingerprint,
            status_code=status_code, headers=stored.headers, body=raw, created_at=now,
            expires_at=now + timedelta(hours=ttl_hours)))
    return stored


async def forget_responses_mentioning(session: AsyncSession, profile_id: str) -> None:
    """First responses of idempotent writes hold a person's details (names, notes, outcomes):
    an erased person's must not be replayable. Every service that stores such responses
    calls this in the erasure's transaction."""
    is_pg = session.get_bind().dialect.name == "postgresql"
    cond = (text("position(CAST(:needle AS bytea) IN body) > 0") if is_pg
            else text("instr(body, :needle) > 0"))
    await session.execute(delete(idempotency_records).where(cond),
                          {"needle": profile_id.encode()})


def _key_is(idem: IdempotencyKey) -> tuple[Any, Any]:
    return (idempotency_records.c.client_id == idem.client_id,
            idempotency_records.c.key == idem.key)


async def _record(session: AsyncSession, idem: IdempotencyKey) -> Any:
    return (await session.execute(
        select(idempotency_records).where(*_key_is(idem)))).one_or_none()


def _replay(row: Any, idem: IdempotencyKey, *, in_flight: bool = False) -> StoredResponse:
    if row is None or (in_flight and as_utc(row.expires_at) <= utcnow()):
        IDEMPOTENCY.labels("in_flight").inc()
        raise IdempotencyInFlight()
    if row.fingerprint != idem.fingerprint:
        IDEMPOTENCY.labels("key_reused").inc()
        raise IdempotencyKeyReused()
    IDEMPOTENCY.labels("replayed").inc()
    return StoredResponse(row.status_code, dict(row.headers), bytes(row.body))
