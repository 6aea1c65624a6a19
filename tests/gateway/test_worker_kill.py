"""Kill test: two delivery workers, one SIGKILLed mid-batch again and again (PostgreSQL).

Every event reaches the receiver at least once; every duplicate comes from a lease held by a
killed worker; there are at most batch size × kills of them; two live workers never send
the same delivery at the same time.
"""

from __future__ import annotations

import http.server
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.events.hub import record_events
from gateway.events.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription
from gateway.events.signing import new_secret
from ruta.distributed import ROOT
from shared.clock import utcnow
from shared.crypto import Sealer
from shared.db import Database
from shared.migrate import upgrade
from shared.outbox import EventEnvelope
from shared.settings import Settings
from tests.support.databases import TempDatabases

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

EVENTS = 500
BATCH = 10
KILLS = 4


@pytest.fixture
async def gateway_db(tmp_path: Path) -> AsyncIterator[tuple[str, Database]]:
    temp = TempDatabases(tmp_path, "kill")
    urls = await temp.create()
    await upgrade("gateway", urls["gateway"])
    db = Database(urls["gateway"])
    yield urls["gateway"], db
    await db.dispose()
    await temp.drop()


def start_receiver() -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    received: list[str] = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(0.02)
            with lock:
                received.append(self.headers["webhook-id"])
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    return server, received


def spawn(url: str, worker_id: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    env.update({"RUTA_GATEWAY_DATABASE_URL": url, "RUTA_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
                "RUTA_EVENT_POLL_SECONDS": "0.05", "RUTA_LOG_LEVEL": "WARNING"})
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "ruta.cli", "worker", "--worker-id", worker_id,
         "--batch-size", str(BATCH), "--lease-seconds", "3", "--no-relay",
         "--concurrency", "1"],
        cwd=ROOT, env=env, stdout=out, stderr=out)


async def test_killed_workers_lose_nothing_and_duplicate_little(
    gateway_db: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = gateway_db
    server, received = start_receiver()
    settings = Settings()
    sub_id = str(uuid.uuid4())
    async with db.uow() as uow:
        uow.session.add(WebhookSubscription(
            id=sub_id, owner="kill-test", organisation_id=None, owner_role="admin",
            url=f"http://127.0.0.1:{server.server_address[1]}/hook", event_types=["*"],
            secret=Sealer.from_settings(settings).seal(new_secret().encode(),
                                                       f"webhook:{sub_id}".encode()),
            status="active"))
        await uow.commit()
    killed: set[str] = set()
    steady = spawn(url, "steady", tmp_path / "steady.log")
    victim_id = "victim-0"
    victim = spawn(url, victim_id, tmp_path / "victim.log")
    time.sleep(3)  # both processes up before there is work
    ids = [str(uuid.uuid4()) for _ in range(EVENTS)]
    await record_events(db, "registry", [EventEnvelope(
        event_id=i, type="profile.updated", occurred_at=utcnow(), subject_type="profile",
        subject_id=i, organisation_id="ong-x", data={}) for i in ids])

    async def holds_a_lease(worker: str) -> bool:
        async with db.uow() as uow:
            return (await uow.session.scalar(select(DeliveryAttempt.id).where(
                DeliveryAttempt.worker_id == worker, DeliveryAttempt.finished_at.is_(None))
                .limit(1))) is not None

    try:
        for k in range(KILLS):
            deadline = time.monotonic() + 20
            while not await holds_a_lease(victim_id) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.03)  # mid-batch
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed.add(victim_id)
            victim_id = f"victim-{k + 1}"
            victim = spawn(url, victim_id, tmp_path / "victim.log")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(set(received) & set(ids)) < EVENTS:
            time.sleep(0.2)
    finally:
        for proc in (steady, victim):
            proc.terminate()
            proc.wait(timeout=10)
        server.shutdown()

    counts = Counter(received)
    assert set(ids) <= set(counts), f"lost {len(set(ids) - set(counts))} events"
    duplicates = {i for i, n in counts.items() if n > 1}
    assert sum(counts[i] - 1 for i in duplicates) <= BATCH * KILLS

    async with db.uow() as uow:
        deliveries = {d.id: d.event_id for d in (await uow.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id))).all()}
        attempts = (await uow.session.scalars(select(DeliveryAttempt))).all()
    assert any(a.worker_id in killed and a.finished_at is None for a in attempts), \
        "the kills must have interrupted leased work, or the test proves nothing"
    by_event: dict[str, list[DeliveryAttempt]] = {}
    for a in attempts:
        by_event.setdefault(deliveries[a.delivery_id], []).append(a)
    for event_id in duplicates:
        assert any(a.worker_id in killed for a in by_event[event_id]), \
            "a duplicate must come from a lease held by a killed worker"
    for event_attempts in by_event.values():
        live = sorted((a.started_at, a.finished_at) for a in event_attempts
                      if a.worker_id not in killed and a.finished_at is not None)
        for (_, f1), (s2, _) in itertools.pairwise(live):
            assert f1 <= s2, "two live workers held the same delivery at once"
