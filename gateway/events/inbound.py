"""Inbound callbacks: ministry systems (SUNEDU, MTPE, a professional college) that call back
with decisions, and public employment services that push their vacancies, signed like our
own webhooks (Standard Webhooks).

A message is verified (source, signature, timestamp within tolerance), recorded by its
webhook-id before anything is applied, so a resent message is answered as a duplicate and
never applied twice, and then applied through the owning service as the ministry system.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway.events.errors import InboundInFlight, InboundInvalid, InboundRejected
from gateway.events.models import InboundMessage, InboundSource
from gateway.events.repository import EventsRepository
from gateway.events.schemas import (
    InboundBody,
    InboundType,
    SourceCreate,
    SourceOut,
    SourceWithSecret,
)
from gateway.events.signing import new_secret, seal_source_secret, unseal_source_secret, verify
from gateway.identity.access import require_admin
from gateway.identity.repository import IdentityRepository
from shared.clock import utcnow
from shared.crypto import Sealer
from shared.db import Database
from shared.errors import AppError, Conflict, ValidationFailed
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.peers import Peers
from shared.settings import Settings

TOLERANCE_SECONDS = 300


async def create_source(*, db: Database, identity: Identity, settings: Settings,
                        data: SourceCreate) -> SourceWithSecret:
    require_admin(identity)
    secret = new_secret()
    async with db.uow() as uow:
        repo = EventsRepository(uow.session)
        if await IdentityRepository(uow.session).organisation(data.organisation_id) is None:
            raise ValidationFailed([("organisation_id", Text("La organización no existe",
                                                             "The organisation does not exist"))])
        if await repo.source(data.id) is not None:
            raise Conflict(Text("Ya existe esa fuente", "That source already exists"))
        source = InboundSource(id=data.id, name=data.name, organisation_id=data.organisation_id,
                               secret=seal_source_secret(Sealer.from_settings(settings),
                                                         data.id, secret),
                               status="active")
        repo.add(source)
        await uow.session.flush()
        out = SourceWithSecret(**SourceOut.model_validate(source).model_dump(), secret=secret)
        await uow.commit()
    return out


async def list_sources(*, db: Database, identity: Identity) -> list[SourceOut]:
    require_admin(identity)
    async with db.uow() as uow:
        return [SourceOut.model_validate(s) for s in
                await EventsRepository(uow.session).sources()]


async def receive_inbound(*, db: Database, peers: Peers, settings: Settings, source_id: str,
                          headers: dict[str, str], body: bytes) -> dict[str, str]:
    """Verify, dedup by webhook-id, apply through the owning service, record."""
    msg_id = headers.get("webhook-id", "")
    source = await _verified_source(db, settings, source_id, msg_id, headers, body)
    try:
        message = InboundBody.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValueError):
        message = None
    duplicate = await _claim(db, source.id, msg_id, message)
    if duplicate is not None:
        return duplicate
    if message is None:
        await _finish(db, source.id, msg_id, "rejected", 422, "invalid body")
        raise InboundInvalid(reason="body")
    call = _transition_call(message)
    if call is None:
        await _finish(db, source.id, msg_id, "rejected", 422, "missing target id")
        raise InboundInvalid(reason="id")
    await _apply(db, peers, source, msg_id, call)
    return {"status": "applied"}


async def _verified_source(db: Database, settings: Settings, source_id: str, msg_id: str,
                           headers: dict[str, str], body: bytes) -> InboundSource:
    """The active source whose secret signed this message, within the time tolerance."""
    ts = headers.get("webhook-timestamp", "")
    signature = headers.get("webhook-signature", "")
    async with db.uow() as uow:
        source = await EventsRepository(uow.session).source(source_id[:64])
    if source is None or source.status != "active" or not msg_id or len(msg_id) > 200:
        raise InboundRejected()
    if not ts.isdigit() or abs(time.time() - int(ts)) > TOLERANCE_SECONDS:
        raise InboundRejected()
    secret = unseal_source_secret(Sealer.from_settings(settings), source.id, source.secret)
    if not verify([secret], msg_id, ts, body, signature):
        raise InboundRejected()
    return source


async def _claim(db: Database, source_id: str, msg_id: str, message: InboundBody | None
                 ) -> dict[str, str] | None:
    """Mark the message as processing; the answer for a duplicate already settled."""
    async with db.uow() as uow:
        repo = EventsRepository(uow.session)
        seen = await repo.inbound_message(source_id, msg_id)
        if seen is not None and seen.result in ("applied", "rejected"):
            return {"status": "duplicate", "result": seen.result}
        if seen is not None and seen.result == "processing":
            raise InboundInFlight()
        if seen is None:
            repo.add(InboundMessage(
                source_id=source_id, webhook_id=msg_id, received_at=utcnow(),
                type=message.type.value if message else "invalid", result="processing"))
        else:
            seen.result = "processing"
        await uow.commit()
    return None


def _transition_call(message: InboundBody) -> tuple[str, str, dict[str, Any]] | None:
    """The service and path that apply the message and the body they take; None when the
    message names no usable target id."""
    data = dict(message.data)
    if message.type is InboundType.VACANCY_UPSERT:  # the vacancy is named by external_id
        target = str(data.get("external_id", ""))
        return ("referrals", "/internal/vacancies/upsert", data) if target else None
    if message.type is InboundType.REFERRAL_TRANSITION:
        target = str(data.pop("referral_id", ""))
        path, service = f"/v1/referrals/{target}/transitions", "referrals"
    elif message.type is InboundType.TRANSFER_IMPORTED:
        # a peer deployment: the registry records the arrival of the person it was sent
        target = str(data.pop("bundle_id", ""))
        path, service = f"/internal/transfers/{target}/arrived", "registry"
    else:
        target = str(data.pop("credential_id", ""))
        path, service = f"/internal/credentials/{target}/transitions", "credentials"
    if not target or "/" in target:
        return None
    return service, path, data


async def _apply(db: Database, peers: Peers, source: InboundSource, msg_id: str,
                 call: tuple[str, str, dict[str, Any]]) -> None:
    """Ask the owning service as the ministry system, the webhook-id as idempotency key;
    record how it went (a service failure leaves the message to be sent again)."""
    service, path, data = call
    identity = Identity(subject=f"inbound:{source.id}", role=Role.MINISTRY_SYSTEM,
                        organisation_id=source.organisation_id)
    try:
        resp = await peers.request(service, "POST", path, identity=identity, json=data,
                                   headers={"If-Match": "*", "Idempotency-Key": msg_id})
    except AppError:
        await _finish(db, source.id, msg_id, "failed", 503, "service unavailable")
        raise
    if resp.status_code >= 500:
        await _finish(db, source.id, msg_id, "failed", resp.status_code, "service error")
        raise InboundInvalid(reason="service error")
    if resp.status_code >= 400:
        detail = str(resp.json().get("title", ""))[:200] if resp.headers.get(
            "content-type", "").endswith("json") else ""
        await _finish(db, source.id, msg_id, "rejected", resp.status_code, detail)
        raise InboundInvalid(reason=detail or str(resp.status_code))
    await _finish(db, source.id, msg_id, "applied", resp.status_code, None)


async def _finish(db: Database, source_id: str, msg_id: str, result: str, status: int,
                  detail: str | None) -> None:
    async with db.uow() as uow:
        row = await EventsRepository(uow.session).inbound_message(source_id, msg_id)
        if row is not None:
            row.result = result
            row.status_code = status
            row.detail = detail
        await uow.commit()
