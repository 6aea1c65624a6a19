"""Retention (issue 18 item 5): the purge deletes what is past its period in every database,
keeps what is recent or still needed, leaves the audit log within its period untouched and
never touches an issuer key; ``--dry-run`` counts the same rows and deletes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from gateway.events.models import (
    ConsumerCursor,
    DeliveryAttempt,
    EventAudience,
    FeedEvent,
    InboundMessage,
    WebhookDelivery,
    WebhookSubscription,
)
from gateway.identity.models import SigningKey
from ruta.purge import run_purge
from services.credentials.models import IssuerKey
from services.registry.models import AuditEntry
from shared.clock import utcnow
from shared.db import Database
from shared.settings import SERVICES, Settings
from shared.tables import idempotency_records, outbox_events
from tests.support.databases import IS_POSTGRES

NOW = utcnow()
BIG = 10**12  # feed positions far above anything the suite writes


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


def uid() -> str:
    return str(uuid.uuid4())


async def _idempotency(db: Database, key: str, expires_at: datetime) -> None:
    async with db.uow() as uow:
        await uow.session.execute(idempotency_records.insert().values(
            client_id="retention-test", key=key, fingerprint="0" * 64, status_code=201,
            headers={}, body=b"{}", created_at=expires_at - timedelta(hours=24),
            expires_at=expires_at))
        await uow.commit()


async def _outbox(db: Database, event_id: str, relayed_at: datetime | None) -> None:
    async with db.uow() as uow:
        await uow.session.execute(outbox_events.insert().values(
            event_id=event_id, type="profile.updated", occurred_at=ago(days=60),
            subject_type="profile", subject_id=uid(), regions=[], data={},
            relayed_at=relayed_at))
        await uow.commit()


async def _gateway_rows(db: Database, ids: dict[str, Any], cursor: int) -> None:
    async with db.uow() as uow:
        s = uow.session
        for service in SERVICES:
            await s.merge(ConsumerCursor(consumer=f"service:{service}", position=cursor,
                                         updated_at=NOW))
        for name, position, recorded in (("feed_old", BIG + 1, ago(days=100)),
                                         ("feed_recent", BIG + 2, ago(days=10))):
            s.add(FeedEvent(position=position, event_id=ids[name], source="registry",
                            type="profile.updated", occurred_at=recorded, recorded_at=recorded,
                            subject_type="profile", subject_id=uid(), regions=[], data={}))
            s.add(EventAudience(organisation_id="ong-retention", position=position))
        s.add(WebhookSubscription(id=ids["sub"], owner="retention-test", owner_role="admin",
                                  url="https://example.org/hook", event_types=["*"],
                                  secret="sealed", status="active"))
        await s.flush()
        for name, status, at in (("delivery_old", "delivered", ago(days=40)),
                                 ("delivery_recent", "delivered", ago(days=5)),
                                 ("delivery_pending", "pending", ago(days=40))):
            s.add(WebhookDelivery(id=ids[name], subscription_id=ids["sub"], event_id=uid(),
                                  event_type="profile.updated", payload={}, status=status,
                                  created_at=at, delivered_at=at if status == "delivered"
                                  else None))
            s.add(DeliveryAttempt(delivery_id=ids[name], worker_id="w", started_at=at))
        for name, result, at in (("inbound_old", "applied", ago(days=100)),
                                 ("inbound_processing", "processing", ago(days=100)),
                                 ("inbound_recent", "applied", ago(days=10))):
            s.add(InboundMessage(source_id="retention-test", webhook_id=ids[name],
                                 received_at=at, type="credential.recognised", result=result))
        for name, retired in (("key_old", ago(days=10)), ("key_recent", ago(minutes=5))):
            s.add(SigningKey(kid=ids[name], private_key="sealed", public_jwk={},
                             created_at=ago(days=60), retired_at=retired))
        await uow.commit()


async def _seed(dbs: dict[str, Database], *, cursor: int = BIG + 2) -> dict[str, Any]:
    names = ["feed_old", "feed_recent", "sub", "delivery_old", "delivery_recent",
             "delivery_pending", "inbound_old", "inbound_processing", "inbound_recent",
             "key_old", "key_recent", "outbox_old", "outbox_recent", "outbox_unrelayed",
             "idem_old", "idem_live", "issuer_key", "audit_old", "audit_recent"]
    ids = {n: uid() for n in names}
    await _gateway_rows(dbs["gateway"], ids, cursor)
    for name in ("gateway", *SERVICES):
        await _idempotency(dbs[name], f"{ids['idem_old']}-{name}", ago(hours=1))
        await _idempotency(dbs[name], f"{ids['idem_live']}-{name}", NOW + timedelta(hours=5))
    await _outbox(dbs["registry"], ids["outbox_old"], ago(days=30))
    await _outbox(dbs["registry"], ids["outbox_recent"], ago(days=1))
    await _outbox(dbs["registry"], ids["outbox_unrelayed"], None)
    async with dbs["registry"].uow() as uow:
        for name, at in (("audit_old", ago(days=365 * 20)), ("audit_recent", ago(days=365))):
            uow.session.add(AuditEntry(profile_id=ids[name], at=at, action="read",
                                       actor_subject="retention-test", actor_role="admin",
                                       fields=[], request_id=None))
        await uow.commit()
    async with dbs["credentials"].uow() as uow:  # retired long ago: still never purged
        uow.session.add(IssuerKey(kid=ids["issuer_key"], algorithm="ES256", public_jwk={},
                                  private_key="sealed", data_key_id="k1",
                                  created_at=ago(days=3000), retired_at=ago(days=2000)))
        await uow.commit()
    return ids


async def _exists(db: Database, column: Any, value: Any) -> bool:
    async with db.uow() as uow:
        return bool(await uow.session.scalar(select(func.count()).where(column == value)))


async def _idem_exists(db: Database, key: str) -> bool:
    return await _exists(db, idempotency_records.c.key, key)


async def test_purge_removes_old_rows_keeps_recent_and_the_audit_log(
        dbs: dict[str, Database], settings: Settings) -> None:
    ids = await _seed(dbs)

    dry = {(o.database, o.category): o for o in await run_purge(settings, dbs, dry_run=True)}
    assert await _exists(dbs["gateway"], FeedEvent.event_id, ids["feed_old"])  # nothing went
    for key in (("gateway", "feed_events"), ("gateway", "webhook_deliveries"),
                ("gateway", "inbound_messages"), ("gateway", "signing_keys"),
                ("registry", "outbox_events"), ("credentials", "idempotency_records"),
                ("registry", "audit_log")):
        assert dry[key].rows >= 1, key

    before = REGISTRY.get_sample_value("ruta_retention_purged_rows_total",
                                       {"category": "feed_events"}) or 0
    stamped = REGISTRY.get_sample_value("ruta_job_last_success_timestamp_seconds",
                                        {"task": "retention_purge"}) or 0
    done = {(o.database, o.category): o.rows
            for o in await run_purge(settings, dbs, dry_run=False)}
    assert (REGISTRY.get_sample_value("ruta_job_last_success_timestamp_seconds",
                                      {"task": "retention_purge"}) or 0) > stamped
    assert REGISTRY.get_sample_value("ruta_retention_purged_rows_total",
                                     {"category": "feed_events"}) == before + done[
        ("gateway", "feed_events")]  # metrics show what went
    assert done == {k: o.rows for k, o in dry.items()}  # the dry run was true

    gw, reg = dbs["gateway"], dbs["registry"]
    gone = [(gw, FeedEvent.event_id, ids["feed_old"]),
            (gw, EventAudience.position, BIG + 1),
            (gw, WebhookDelivery.id, ids["delivery_old"]),
            (gw, DeliveryAttempt.delivery_id, ids["delivery_old"]),
            (gw, InboundMessage.webhook_id, ids["inbound_old"]),
            (gw, SigningKey.kid, ids["key_old"]),
            (reg, outbox_events.c.event_id, ids["outbox_old"]),
            (reg, AuditEntry.profile_id, ids["audit_old"])]  # past its ten years
    kept = [(gw, FeedEvent.event_id, ids["feed_recent"]),
            (gw, WebhookDelivery.id, ids["delivery_recent"]),
            (gw, WebhookDelivery.id, ids["delivery_pending"]),
            (gw, DeliveryAttempt.delivery_id, ids["delivery_recent"]),
            (gw, InboundMessage.webhook_id, ids["inbound_processing"]),
            (gw, InboundMessage.webhook_id, ids["inbound_recent"]),
            (gw, SigningKey.kid, ids["key_recent"]),
            (reg, outbox_events.c.event_id, ids["outbox_recent"]),
            (reg, outbox_events.c.event_id, ids["outbox_unrelayed"]),
            (reg, AuditEntry.profile_id, ids["audit_recent"]),
            (dbs["credentials"], IssuerKey.kid, ids["issuer_key"])]
    assert [c for db, c, v in gone if await _exists(db, c, v)] == []
    assert [(c, v) for db, c, v in kept if not await _exists(db, c, v)] == []
    for name in ("gateway", *SERVICES):
        assert not await _idem_exists(dbs[name], f"{ids['idem_old']}-{name}")
        assert await _idem_exists(dbs[name], f"{ids['idem_live']}-{name}")


async def test_the_audit_log_stays_append_only_outside_the_purge(
        dbs: dict[str, Database]) -> None:
    """The purge's window is the only way through the triggers: a plain DELETE of an entry,
    however old, and any UPDATE are still refused."""
    ids = await _seed(dbs)
    for statement in (delete(AuditEntry).where(AuditEntry.profile_id == ids["audit_old"]),
                      update(AuditEntry).where(AuditEntry.profile_id == ids["audit_old"])
                      .values(action="erase")):
        with pytest.raises(DBAPIError, match="append-only"):
            async with dbs["registry"].uow() as uow:
                await uow.session.execute(statement)
                await uow.commit()
    assert await _exists(dbs["registry"], AuditEntry.profile_id, ids["audit_old"])


async def test_a_consumer_behind_keeps_the_feed_and_the_outbox(
        dbs: dict[str, Database], settings: Settings) -> None:
    """An event not yet sent to every consuming service stays in the feed, and outbox rows
    relayed after it stay in their service, however old."""
    ids = await _seed(dbs, cursor=BIG)  # every consumer is before the old event
    await run_purge(settings, dbs, dry_run=False)
    assert await _exists(dbs["gateway"], FeedEvent.event_id, ids["feed_old"])
    assert await _exists(dbs["registry"], outbox_events.c.event_id, ids["outbox_old"])
    assert not await _exists(dbs["gateway"], WebhookDelivery.id, ids["delivery_old"])


@pytest.mark.skipif(not IS_POSTGRES, reason="replicas share PostgreSQL; SQLite is one process")
async def test_a_replica_purging_is_not_raced(dbs: dict[str, Database], settings: Settings,
                                             root_dbs: dict[str, Database]) -> None:
    """While another replica holds the purge's advisory lock on a database, this one
    deletes nothing there (and still purges the others)."""
    ids = await _seed(dbs)
    async with root_dbs["gateway"].engine.connect() as other:
        await other.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"),
                            {"k": "ruta:retention-purge"})
        done = {(o.database, o.category): o.rows
                for o in await run_purge(settings, dbs, dry_run=False)}
        await other.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"),
                            {"k": "ruta:retention-purge"})
    assert done[("gateway", "feed_events")] == 0
    assert await _exists(dbs["gateway"], FeedEvent.event_id, ids["feed_old"])
    assert done[("registry", "outbox_events")] >= 1  # another database, another lock holder


async def test_a_database_down_does_not_stop_the_others(
        dbs: dict[str, Database], settings: Settings) -> None:
    ids = await _seed(dbs)
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/ruta_down")
    try:
        out = await run_purge(settings, {**dbs, "referrals": down}, dry_run=False)
    finally:
        await down.dispose()
    assert {(o.database, o.category) for o in out if o.failed} == {
        ("referrals", "idempotency_records"), ("referrals", "outbox_events")}
    assert not await _exists(dbs["registry"], outbox_events.c.event_id, ids["outbox_old"])
    assert not await _idem_exists(dbs["credentials"], f"{ids['idem_old']}-credentials")


def test_dry_run_command_prints_counts_only(tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    import asyncio

    from ruta.cli import app
    from ruta.distributed import prepare_databases

    monkeypatch.setenv("RUTA_DATA_DIR", str(tmp_path))
    settings = Settings(data_dir=tmp_path)
    asyncio.run(prepare_databases({n: settings.database_url(n)
                                   for n in ("gateway", *SERVICES)}))
    result = CliRunner().invoke(app, ["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert any("gateway" in ln and "feed_events" in ln and "would delete 0" in ln
               for ln in lines)
    assert any("registry" in ln and "audit_log" in ln for ln in lines)


async def test_the_scheduled_purge_runs_each_interval(
        dbs: dict[str, Database], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``ruta worker`` runs (gateway.retention.purge_task): a purge per interval, over
    every database, the registered audit log included."""
    import asyncio

    from gateway.retention import categories
    from shared import retention

    ids = await _seed(dbs)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 1:
            raise asyncio.CancelledError

    monkeypatch.setattr(retention.asyncio, "sleep", sleep)

    async def categories_now() -> list[retention.Category]:
        return await categories(settings, dbs)

    with pytest.raises(asyncio.CancelledError):
        await retention.run_forever(dbs, categories_now, settings)
    assert sleeps == [settings.retention_interval_seconds] * 2
    assert not await _exists(dbs["gateway"], FeedEvent.event_id, ids["feed_old"])
    assert not await _exists(dbs["registry"], AuditEntry.profile_id, ids["audit_old"])
