"""Events and webhooks: outbox → feed → signed deliveries; inbound ministry callbacks."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import standardwebhooks
from fastapi import FastAPI
from sqlalchemy import select

from gateway.events.delivery_worker import DeliveryWorker
from gateway.events.hub import record_events
from gateway.events.models import FeedEvent, WebhookDelivery, WebhookSubscription
from gateway.events.retries import SCHEDULE
from gateway.events.signing import sign
from ruta.embedded import create_embedded_app
from shared.clock import as_utc, utcnow
from shared.db import Database
from shared.outbox import Event, EventEnvelope
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.credentials import degree_payload
from tests.support.payloads import profile_payload
from tests.support.receivers import Receiver
from tests.support.tokens import TokenFactory


@pytest.fixture
async def hub_app(dbs: dict[str, Database]) -> AsyncIterator[FastAPI]:
    settings = Settings(allow_private_webhook_targets=True)
    app = create_embedded_app(settings, dbs)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def hc(hub_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with contract_client(hub_app) as c:
        yield c


async def subscribe(c: httpx.AsyncClient, auth: TokenFactory, url: str,
                    types: list[str] | None = None, org: str = "ong-lima") -> dict[str, Any]:
    resp = await c.post("/v1/webhook-subscriptions", headers=auth("ngo_partner", org=org),
                        json={"url": url, "event_types": types or ["profile.created"]})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_outbox_reaches_the_feed_filtered_and_resumable(
    hub_app: FastAPI, hc: httpx.AsyncClient, auth: TokenFactory
) -> None:
    made = await hc.post("/v1/profiles", json=profile_payload(), headers=auth())
    pid = made.json()["id"]
    await hub_app.state.hub.run_once()
    mine = auth("ngo_partner", org="ong-lima")
    page = await hc.get("/v1/events", params={"types": "profile.created"}, headers=mine)
    assert page.status_code == 200
    items = [e for e in page.json()["items"] if e["subject_id"] == pid]
    assert len(items) == 1
    assert "María" not in page.text  # ids and field names, never personal data
    cursor = page.json()["next_cursor"]
    again = await hc.get("/v1/events", params={"types": "profile.created", "cursor": cursor},
                         headers=mine)
    assert again.json()["items"] == []
    await hc.post("/v1/profiles", json=profile_payload(given_names="Luis"), headers=auth())
    await hub_app.state.hub.run_once()
    later = await hc.get("/v1/events", params={"types": "profile.created", "cursor": cursor},
                         headers=mine)
    assert len(later.json()["items"]) == 1
    other = await hc.get("/v1/events", headers=auth("ngo_partner", org="ong-otra"))
    assert all(e["subject_id"] != pid for e in other.json()["items"])
    wrong = await hc.get("/v1/events", params={"types": "referral.created", "cursor": cursor},
                         headers=mine)
    assert wrong.status_code == 400  # a cursor belongs to its filters
    assert (await hc.get("/v1/events", headers=auth())).status_code == 403  # caseworker


async def test_deliveries_verify_with_standardwebhooks_and_rotation_signs_twice(
    hub_app: FastAPI, hc: httpx.AsyncClient, auth: TokenFactory,
    receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    sub = await subscribe(hc, auth, url)
    await hc.post("/v1/profiles", json=profile_payload(), headers=auth())
    await hub_app.state.hub.run_once()
    assert await hub_app.state.worker.run_once() == 1
    assert len(rec.received) == 1
    got = rec.received[0]
    payload = standardwebhooks.Webhook(sub["secret"]).verify(got["body"], got["headers"])
    assert payload["type"] == "profile.created"
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook("whsec_" + "A" * 32).verify(got["body"], got["headers"])

    rotated = await hc.post(f"/v1/webhook-subscriptions/{sub['id']}/rotate-secret",
                            headers=auth("ngo_partner", **{"If-Match": '"v1"'}))
    assert rotated.status_code == 200, rotated.text
    await hc.post("/v1/profiles", json=profile_payload(given_names="Otro"), headers=auth())
    await hub_app.state.hub.run_once()
    await hub_app.state.worker.run_once()
    second = rec.received[1]
    assert len(second["headers"]["webhook-signature"].split()) == 2
    for secret in (sub["secret"], rotated.json()["secret"]):
        standardwebhooks.Webhook(secret).verify(second["body"], second["headers"])

    log = await hc.get(f"/v1/webhook-subscriptions/{sub['id']}/deliveries",
                       headers=auth("ngo_partner"))
    assert {d["status"] for d in log.json()["items"]} == {"delivered"}
    assert all(d["last_status_code"] == 200 for d in log.json()["items"])
    ping = await hc.post(f"/v1/webhook-subscriptions/{sub['id']}/test",
                         headers=auth("ngo_partner"))
    assert ping.status_code == 202
    await hub_app.state.worker.run_once()
    assert json.loads(rec.received[-1]["body"])["type"] == "webhook.test"
    replay = await hc.post(f"/v1/webhook-subscriptions/{sub['id']}/replay",
                           json={"since": (utcnow() - timedelta(hours=1)).isoformat()},
                           headers=auth("ngo_partner"))
    assert replay.json()["queued"] >= 2
    foreign = await hc.get(f"/v1/webhook-subscriptions/{sub['id']}",
                           headers=auth("ngo_partner", org="ong-otra"))
    assert foreign.status_code == 404


@pytest.mark.invalid_request
@pytest.mark.parametrize("since", [-1060828, 1700000000, 1.5, True, "0001-01-01T00:00:00Z",
                                   "9999-12-31T00:00:00Z"])
async def test_replay_since_is_a_bounded_rfc3339_date_time(
    hc: httpx.AsyncClient, auth: TokenFactory, receiver: tuple[Receiver, str], since: Any
) -> None:
    """Found by `make fuzz` (PostgreSQL, provider): `{"since": -1060828}` was read as a Unix
    time and answered 202; the document says an RFC 3339 string."""
    _, url = receiver
    sub = await subscribe(hc, auth, url)
    resp = await hc.post(f"/v1/webhook-subscriptions/{sub['id']}/replay",
                         json={"since": since}, headers=auth("ngo_partner"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == "since"


async def test_retries_follow_the_schedule_under_a_controlled_clock(
    dbs: dict[str, Database], hc: httpx.AsyncClient, auth: TokenFactory,
    receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    sub = await subscribe(hc, auth, url, types=["consent.granted"])
    rec.script = [(500, {}), (500, {}), (500, {}), (200, {})]
    now = [utcnow() + timedelta(seconds=1)]
    worker = DeliveryWorker(dbs["gateway"], Settings(allow_private_webhook_targets=True),
                            clock=lambda: now[0])
    await record_events(dbs["gateway"], "registry", [_event("consent.granted")])
    gaps = []
    for attempt in range(1, 5):
        assert await worker.run_once() == 1
        async with dbs["gateway"].uow() as uow:
            d = (await uow.session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.subscription_id == sub["id"]))).one()
        assert d.attempts == attempt
        if attempt < 4:
            gap = (d.next_attempt_at.replace(tzinfo=None) - now[0].replace(tzinfo=None))
            gaps.append(gap.total_seconds())
            assert worker_nothing_due(await worker.run_once())
            now[0] = as_utc(d.next_attempt_at)
    assert d.status == "delivered" and len(rec.received) == 4
    for gap, planned in zip(gaps, SCHEDULE[1:4], strict=True):
        assert planned * 0.8 <= gap <= planned * 1.2, (gaps, SCHEDULE)
    await worker.close()


def worker_nothing_due(leased: int) -> bool:
    return leased == 0


def _event(kind: str, org: str = "ong-lima") -> EventEnvelope:
    """A registry event as its schema describes it (consents name theirs)."""
    data = {} if kind == "profile.erased" else {
        "consent_id": str(uuid.uuid4()), "purpose": "referral",
        "recipient_organisation_id": None, "programme_id": None}
    return EventEnvelope(event_id=str(uuid.uuid4()), type=kind, occurred_at=utcnow(),
                         subject_type="profile", subject_id=str(uuid.uuid4()),
                         organisation_id=org, regions=["PE-LMA"], data=data)


async def test_gone_disables_and_tells_the_owner_retry_after_is_honoured(
    dbs: dict[str, Database], hc: httpx.AsyncClient, auth: TokenFactory,
    receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    slow = await subscribe(hc, auth, url, types=["consent.withdrawn"])
    rec.script = [(429, {"Retry-After": "120"})]
    now = [utcnow() + timedelta(seconds=1)]
    worker = DeliveryWorker(dbs["gateway"], Settings(allow_private_webhook_targets=True),
                            clock=lambda: now[0])
    await record_events(dbs["gateway"], "registry", [_event("consent.withdrawn")])
    await worker.run_once()
    async with dbs["gateway"].uow() as uow:
        d = (await uow.session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == slow["id"]))).one()
    assert (d.next_attempt_at.replace(tzinfo=None)
            - now[0].replace(tzinfo=None)).total_seconds() >= 120  # not the 5 s of the schedule

    gone = await subscribe(hc, auth, url, types=["profile.erased"])
    rec.script = [(410, {})]
    await record_events(dbs["gateway"], "registry", [_event("profile.erased")])
    from gateway.events.subscriptions import endpoint_disabled_event

    worker.emit_disabled = endpoint_disabled_event
    await worker.run_once()
    async with dbs["gateway"].uow() as uow:
        s = await uow.session.get(WebhookSubscription, gone["id"])
        notice = (await uow.session.scalars(select(FeedEvent).where(
            FeedEvent.type == "webhook.endpoint_disabled",
            FeedEvent.subject_id == gone["id"]))).all()
    assert s is not None and s.status == "disabled"
    assert len(notice) == 1
    enabled = await hc.post(f"/v1/webhook-subscriptions/{gone['id']}/enable",
                            headers=auth("ngo_partner", **{"If-Match": f'"v{s.version}"'}))
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    await worker.close()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "https://127.0.0.1/hook", "https://localhost/hook",
    "https://10.1.2.3/hook", "https://172.16.0.1/hook", "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://[::ffff:a9fe:a9fe]/hook",
    "https://2130706433/hook", "https://0x7f.0.0.1/hook", "https://017700000001/hook",
    "https://127.1/hook", "https://[fe80::1]/hook", "https://[fc00::1]/hook",
    "https://0.0.0.0/hook", "https://metadata.google.internal/computeMetadata/v1",
    "https://user:pw@hooks.example.org/x", "ftp://hooks.example.org/x",
    "http://hooks.example.org/plain-http",
])
async def test_ssrf_targets_are_refused_in_production_mode(
    url: str, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    resp = await client.post("/v1/webhook-subscriptions", headers=auth("ngo_partner"),
                             json={"url": url, "event_types": ["profile.created"]})
    assert resp.status_code == 422, (url, resp.text)


async def test_public_https_target_is_accepted(client: httpx.AsyncClient,
                                               auth: TokenFactory) -> None:
    resp = await client.post("/v1/webhook-subscriptions", headers=auth("ngo_partner"),
                             json={"url": "https://hooks.example.org/ruta",
                                   "event_types": ["referral.created"]})
    assert resp.status_code == 201
    assert resp.json()["secret"].startswith("whsec_")


def signed(secret: str, body: dict[str, Any], msg_id: str | None = None,
           ts: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    mid = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = ts or int(time.time())
    return raw, {"webhook-id": mid, "webhook-timestamp": str(stamp),
                 "webhook-signature": sign(secret, mid, stamp, raw),
                 "content-type": "application/json"}


async def test_inbound_sunedu_callback_recognises_once(
    hc: httpx.AsyncClient, auth: TokenFactory
) -> None:
    admin = auth("admin", org=None, regions=[])
    await hc.post("/v1/organisations", headers=admin, json={
        "id": "sunedu", "name": "SUNEDU", "kind": "ministry", "country": "PE",
        "regions": ["PE-LMA"]})
    source = await hc.post("/v1/inbound-sources", headers=admin, json={
        "id": "sunedu", "name": "SUNEDU reconocimientos", "organisation_id": "sunedu"})
    assert source.status_code == 201, source.text
    secret = source.json()["secret"]
    profile = (await hc.post("/v1/profiles", json=profile_payload(), headers=auth())).json()
    cred = await hc.post("/v1/credentials", json=degree_payload(profile["id"]), headers=auth())
    cid = cred.json()["id"]
    seen = await hc.post(f"/v1/credentials/{cid}/transitions", json={"action": "see_document"},
                         headers=auth(**{"If-Match": cred.headers["etag"]}))
    assert seen.status_code == 200, seen.text
    decision = {"type": "credential.transition", "data": {
        "credential_id": cid, "action": "recognise", "reason": "Resolución emitida",
        "recognition": {"body": "SUNEDU", "resolution_number": "0456-2026-SUNEDU/DIGRAT",
                        "resolution_date": "2026-11-20"}}}

    async def state() -> tuple[str, int]:
        c = (await hc.get(f"/v1/credentials/{cid}", headers=auth())).json()
        return c["status"], c["version"]

    before = await state()
    for body, headers in (
        signed("whsec_" + "QUJD" * 8, decision),                       # wrong secret
        signed(secret, decision, ts=int(time.time()) - 600),           # stale timestamp
    ):
        resp = await hc.post("/v1/inbound/sunedu", content=body, headers=headers)
        assert resp.status_code == 401
    body, headers = signed(secret, decision)
    tampered = body.replace(b"0456", b"9999")
    assert (await hc.post("/v1/inbound/sunedu", content=tampered,
                          headers=headers)).status_code == 401
    assert (await hc.post("/v1/inbound/nobody", content=body,
                          headers=headers)).status_code == 401
    assert await state() == before

    ok = await hc.post("/v1/inbound/sunedu", content=body, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "applied"
    after = await state()
    assert after[0] == "recognised"
    replayed = await hc.post("/v1/inbound/sunedu", content=body, headers=headers)
    assert replayed.status_code == 200 and replayed.json()["status"] == "duplicate"
    assert await state() == after

    invalid = {"type": "credential.transition", "data": {"credential_id": cid,
                                                         "action": "fly"}}
    body2, headers2 = signed(secret, invalid)
    assert (await hc.post("/v1/inbound/sunedu", content=body2,
                          headers=headers2)).status_code == 422
    assert await state() == after


@pytest.mark.postgres_only
async def test_feed_never_skips_with_concurrent_out_of_order_writers(
    root_dbs: dict[str, Database]
) -> None:
    """Writers commit out of order; a reader polls all along; every event exactly once."""
    app = create_embedded_app(Settings(), root_dbs)
    marker = uuid.uuid4().hex
    async with app.router.lifespan_context(app):
        hub = app.state.hub
        registry = root_dbs["registry"]
        expected: list[str] = []

        async def writer(i: int) -> None:
            async with registry.uow() as uow:
                uow.emit(Event(type="profile.updated", subject_type="profile",
                               subject_id=f"{marker}-{i}", organisation_id="ong-feed",
                               data={"changed_fields": ["region"]}))
                await uow.commit()  # emit lands in the outbox on commit...
            expected.append(f"{marker}-{i}")

        async def slow_writer(i: int) -> None:
            # ...so hold a transaction open across others' commits: take a position early
            async with registry.uow() as uow:
                uow.emit(Event(type="profile.updated", subject_type="profile",
                               subject_id=f"{marker}-{i}", organisation_id="ong-feed",
                               data={"changed_fields": ["region"]}))
                await uow.session.flush()
                from shared.tables import outbox_events

                await uow.session.execute(outbox_events.insert().values(
                    event_id=str(uuid.uuid4()), type="profile.updated", occurred_at=utcnow(),
                    subject_type="profile", subject_id=f"{marker}-{i}-early",
                    organisation_id="ong-feed", regions=[],
                    data={"changed_fields": ["region"]}))
                await asyncio.sleep(random.uniform(0.05, 0.3))
                await uow.commit()
            expected.extend([f"{marker}-{i}-early", f"{marker}-{i}"])

        seen: list[tuple[int, str]] = []
        done = asyncio.Event()

        async def reader() -> None:
            from gateway.events.feed import list_events
            from shared.identity import Identity, Role

            me = Identity(subject="feed-reader", role=Role.MINISTRY_SYSTEM,
                          organisation_id="ong-feed")
            cursor = None
            idle_after_done = 0
            while idle_after_done < 3:
                await hub.run_once()
                page = await list_events(db=root_dbs["gateway"], identity=me,
                                         cursors=app.state.cursors, types=[], cursor=cursor,
                                         limit=50, legacy_until=date(2027, 6, 30))
                seen.extend((i.position, i.subject_id) for i in page.items
                            if i.subject_id.startswith(marker))
                cursor = page.next_cursor
                if done.is_set() and not page.items:
                    idle_after_done += 1
                await asyncio.sleep(0.01)

        read = asyncio.create_task(reader())
        await asyncio.gather(*[(slow_writer if i % 3 == 0 else writer)(i) for i in range(60)])
        done.set()
        await read
    ids = [s for _, s in seen]
    assert sorted(ids) == sorted(expected)        # every event...
    assert len(ids) == len(set(ids))              # ...exactly once
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)  # in a stable order




async def test_a_disabled_subscription_takes_no_test_ping(
    hub_app: FastAPI, hc: httpx.AsyncClient, auth: TokenFactory,
    receiver: tuple[Receiver, str], dbs: dict[str, Database],
) -> None:
    """A ping to an endpoint its owner switched off would be delivered all the same: 409."""
    _, url = receiver
    sub = await subscribe(hc, auth, url)
    off = await hc.post(f"/v1/webhook-subscriptions/{sub['id']}/disable",
                        headers=auth("ngo_partner", **{"If-Match": '"v1"'}))
    assert off.status_code == 200, off.text
    ping = await hc.post(f"/v1/webhook-subscriptions/{sub['id']}/test",
                         headers=auth("ngo_partner"))
    assert ping.status_code == 409, ping.text
    assert ping.json()["type"].endswith("/subscription-disabled")
    async with dbs["gateway"].uow() as uow:
        queued = (await uow.session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == sub["id"]))).all()
    assert queued == []
