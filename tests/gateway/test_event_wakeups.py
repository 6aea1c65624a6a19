"""An idle system does not poll: the relay long-polls each service's outbox and is woken by
the service's commit; the dispatcher and the delivery worker are woken by the relay. Here the
safety-net period is 30 s, so an event that reaches the feed and a subscriber within a few
seconds got there by being woken, not by a poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.identity.keys import KeyStore, ensure_signing_key
from ruta.distributed import prepare_databases
from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.databases import TempDatabases
from tests.support.payloads import profile_payload
from tests.support.receivers import Receiver
from tests.support.tokens import TokenFactory, make_token_factory

IDLE_SECONDS = 30.0
PROMPT_SECONDS = 5.0


@pytest.fixture(scope="module")
async def wake_dbs(tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[dict[str, Database]]:
    # own databases: background tasks share no connection with a rolled-back test transaction
    temp = TempDatabases(Path(tmp_path_factory.mktemp("wake")), "wake")
    urls = await temp.create()
    await prepare_databases(urls)
    dbs = {name: Database(url, pool_size=5) for name, url in urls.items()}
    yield dbs
    for db in dbs.values():
        await db.dispose()
    await temp.drop()


@pytest.fixture
async def wake_auth(wake_dbs: dict[str, Database]) -> TokenFactory:
    await ensure_signing_key(wake_dbs["gateway"], Settings())
    keys = KeyStore(wake_dbs["gateway"], Settings())
    await keys.refresh(force=True)
    return make_token_factory(keys)


@pytest.fixture
async def live(wake_dbs: dict[str, Database], tmp_path: Path
               ) -> AsyncIterator[httpx.AsyncClient]:
    # the long poll is capped at half the upstream timeout: raise it, so 30 s holds
    settings = Settings(data_dir=tmp_path, background_tasks=True,
                        event_idle_seconds=IDLE_SECONDS, upstream_timeout_seconds=100,
                        allow_private_webhook_targets=True)
    assert settings.event_wait_seconds == IDLE_SECONDS
    app = create_embedded_app(settings, wake_dbs)
    async with app.router.lifespan_context(app), contract_client(app) as c:
        await asyncio.sleep(0.5)  # let the loops go idle: relay waiting, dispatcher asleep
        yield c


async def _within(seconds: float, probe: Any) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await probe():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s (the safety net is {IDLE_SECONDS} s)")


async def test_a_commit_wakes_the_relay_dispatcher_and_worker(
        live: httpx.AsyncClient, wake_auth: TokenFactory,
        receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    partner = wake_auth("ngo_partner", org="ong-lima")
    sub = await live.post("/v1/webhook-subscriptions", headers=partner,
                          json={"url": url, "event_types": ["profile.created"]})
    assert sub.status_code == 201, sub.text
    await asyncio.sleep(0.3)

    made = await live.post("/v1/profiles", json=profile_payload(), headers=wake_auth())
    assert made.status_code == 201
    pid = made.json()["id"]

    async def in_feed() -> bool:
        page = await live.get("/v1/events", params={"types": "profile.created"},
                              headers=partner)
        return any(e["subject_id"] == pid for e in page.json()["items"])

    async def delivered() -> bool:
        with rec.lock:
            return any(pid.encode() in r["body"] for r in rec.received)

    assert await _within(PROMPT_SECONDS, in_feed) < PROMPT_SECONDS
    assert await _within(PROMPT_SECONDS, delivered) < PROMPT_SECONDS

    # a test ping queued through the API wakes the worker too
    await asyncio.sleep(0.3)
    ping = await live.post(f"/v1/webhook-subscriptions/{sub.json()['id']}/test",
                           headers=partner)
    assert ping.status_code == 202, ping.text

    async def pinged() -> bool:
        with rec.lock:
            return any(b"webhook.test" in r["body"] for r in rec.received)

    assert await _within(PROMPT_SECONDS, pinged) < PROMPT_SECONDS
