"""The delivery worker of outbound webhooks.

The worker leases due deliveries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers share the queue; one writer at a time on SQLite), records each attempt when it
starts, sends, and records the outcome only if it still holds the lease. A worker killed
mid-send leaves its lease to expire and the delivery is sent again: at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import orjson
import structlog
from sqlalchemy import func, select, update

from gateway.events import metrics
from gateway.events.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription
from gateway.events.retries import DISABLE_AFTER, next_delay, retry_after_seconds
from gateway.events.signing import sign, unseal_subscription_secret
from gateway.events.targets import SafeResolver, check_url
from shared.clock import as_utc, utcnow
from shared.crypto import Sealer
from shared.db import Database, UnitOfWork
from shared.metrics import Sampler
from shared.outbox import TRACE_KEY, without_trace
from shared.settings import Settings
from shared.tracing import continued

if TYPE_CHECKING:
    from gateway.events.hub import EventHub

log = structlog.get_logger("ruta.webhooks")

TIMEOUT_SECONDS = 10.0

# Tells an endpoint's owner it was disabled, inside the transaction that disables it
# (``gateway.events.subscriptions.endpoint_disabled_event``, injected: this module does not
# import the hub).
DisabledNotice = Callable[[UnitOfWork, WebhookSubscription, str], Awaitable[None]]


@dataclass
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int
    retry_after: str | None = None


class DeliveryWorker:
    def __init__(self, db: Database, settings: Settings, *, worker_id: str | None = None,
                 batch_size: int = 20, lease_seconds: float = 60.0,
                 clock: Callable[[], datetime] = utcnow,
                 emit_disabled: DisabledNotice | None = None
                 ) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = lambda: as_utc(clock())
        self.sealer = Sealer.from_settings(settings)
        self._session: aiohttp.ClientSession | None = None
        self.emit_disabled = emit_disabled
        self.backlog_sampler = Sampler()

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=100, limit_per_host=4,
                resolver=None if self.settings.allow_private_webhook_targets else SafeResolver())
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def lease_batch(self) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
        now = self.clock()
        async with self.db.uow() as uow:
            q = (select(WebhookDelivery.id)
                 .where(WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now)
                 .where((WebhookDelivery.leased_until.is_(None))
                        | (WebhookDelivery.leased_until < now))
                 .order_by(WebhookDelivery.next_attempt_at).limit(self.batch_size))
            if self.db.is_postgres:
                q = q.with_for_update(skip_locked=True)
            ids = list((await uow.session.scalars(q)).all())
            if self.backlog_sampler.due():
                metrics.backlog_sampled(int(await uow.session.scalar(
                    select(func.count()).select_from(WebhookDelivery)
                    .where(WebhookDelivery.status == "pending",
                           WebhookDelivery.next_attempt_at <= now)) or 0))
            if not ids:
                return []
            await uow.session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                .values(leased_until=now + self.lease, lease_owner=self.worker_id))
            for delivery_id in ids:
                uow.session.add(DeliveryAttempt(delivery_id=delivery_id,
                                                worker_id=self.worker_id, started_at=now))
            rows = (await uow.session.execute(
                select(WebhookDelivery, WebhookSubscription)
                .join(WebhookSubscription,
                      WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.id.in_(ids)))).all()
            await uow.commit()
        return [(d, s) for d, s in rows]

    def _signature(self, sub: WebhookSubscription, msg_id: str, ts: int, body: bytes) -> str:
        now = self.clock()
        sigs = [sign(unseal_subscription_secret(self.sealer, sub.id, sub.secret),
                     msg_id, ts, body)]
        if sub.previous_secret and sub.previous_secret_expires_at \
                and as_utc(sub.previous_secret_expires_at) > now:
            sigs.append(sign(unseal_subscription_secret(self.sealer, sub.id,
                                                        sub.previous_secret),
                             msg_id, ts, body))
        return " ".join(sigs)

    async def send(self, delivery: WebhookDelivery, sub: WebhookSubscription) -> Outcome:
        """One attempt; with tracing on, in the trace of the request that caused the event
        (the subscriber receives its ``traceparent``)."""
        with continued(delivery.payload.get(TRACE_KEY), "webhook deliver",
                       event_type=delivery.event_type):
            return await self._send(delivery, sub)

    async def _send(self, delivery: WebhookDelivery, sub: WebhookSubscription) -> Outcome:
        body = orjson.dumps(without_trace(delivery.payload))
        ts = int(self.clock().timestamp())
        headers = {"content-type": "application/json", "webhook-id": delivery.event_id,
                   "webhook-timestamp": str(ts),
                   "webhook-signature": self._signature(sub, delivery.event_id, ts, body),
                   "user-agent": "RutaEmpleabilidad-Webhooks/1"}
        started = time.perf_counter()
        reason = check_url(sub.url, allow_private=self.settings.allow_private_webhook_targets)
        if reason:
            return Outcome(None, f"refused: {reason}", 0)
        try:
            session = await self._http()
            async with session.post(sub.url, data=body, headers=headers,
                                    allow_redirects=False) as resp:
                await resp.content.read(65536)
                return Outcome(resp.status, None, int((time.perf_counter() - started) * 1000),
                               resp.headers.get("Retry-After"))
        except TimeoutError:
            return Outcome(None, "timeout", int((time.perf_counter() - started) * 1000))
        except (aiohttp.ClientError, OSError) as exc:
            return Outcome(None, type(exc).__name__[:200],
                           int((time.perf_counter() - started) * 1000))

    async def record(self, delivery: WebhookDelivery, sub: WebhookSubscription,
                     outcome: Outcome) -> None:
        now = self.clock()
        ok = outcome.status_code is not None and 200 <= outcome.status_code < 300
        async with self.db.uow() as uow:
            d = await uow.session.get(WebhookDelivery, delivery.id)
            s = await uow.session.get(WebhookSubscription, sub.id)
            if d is None or s is None or d.lease_owner != self.worker_id or d.status != "pending":
                return  # our lease expired and someone else owns it now
            await self._finish_attempt(uow, d, outcome, now)
            d.attempts += 1
            d.last_status_code = outcome.status_code
            d.last_error = outcome.error
            d.last_latency_ms = outcome.latency_ms
            d.leased_until = None
            d.lease_owner = None
            if ok:
                d.status = "delivered"
                d.delivered_at = now
                d.next_attempt_at = None
                s.failing_since = None
            else:
                await self._after_failure(uow, d, s, outcome, now)
            await uow.commit()
        sent = outcome.status_code is not None or outcome.latency_ms > 0
        metrics.attempt_finished(ok, d.status == "failed", outcome.latency_ms if sent else None)

    async def _finish_attempt(self, uow: UnitOfWork, d: WebhookDelivery, outcome: Outcome,
                              now: datetime) -> None:
        """Close the attempt row this worker opened when it leased the delivery."""
        attempt = (await uow.session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == d.id,
                                          DeliveryAttempt.worker_id == self.worker_id,
                                          DeliveryAttempt.finished_at.is_(None))
            .order_by(DeliveryAttempt.id.desc()).limit(1))).first()
        if attempt is not None:
            attempt.finished_at = now
            attempt.status_code = outcome.status_code
            attempt.error = outcome.error
            attempt.latency_ms = outcome.latency_ms

    async def _after_failure(self, uow: UnitOfWork, d: WebhookDelivery,
                             s: WebhookSubscription, outcome: Outcome, now: datetime) -> None:
        """Schedule the next attempt (a 429/503 Retry-After can only push it later), or give
        up: on a 410, after failing for 5 days (which also disables the endpoint and tells
        its owner), or when the schedule runs out."""
        if s.failing_since is None:
            s.failing_since = now
        gone = outcome.status_code == 410
        too_long = now - as_utc(s.failing_since) >= DISABLE_AFTER
        delay = next_delay(d.attempts)
        if outcome.status_code in (429, 503):
            hint = retry_after_seconds(outcome.retry_after, now)
            if hint is not None and delay is not None:
                delay = max(delay, hint)
        if gone or too_long:
            d.status = "failed"
            d.next_attempt_at = None
            if s.status == "active":
                s.status = "disabled"
                s.disabled_reason = "gone (410)" if gone else "failing for 5 days"
                metrics.endpoint_disabled(gone)
                if self.emit_disabled is not None:
                    await self.emit_disabled(uow, s, s.disabled_reason)
        elif delay is None:
            d.status = "failed"
            d.next_attempt_at = None
        else:
            d.next_attempt_at = now + timedelta(seconds=delay)

    async def run_once(self) -> int:
        """Lease one batch and deliver it; endpoints in parallel, each endpoint in order."""
        leased = await self.lease_batch()
        by_sub: dict[str, list[tuple[WebhookDelivery, WebhookSubscription]]] = {}
        for d, s in leased:
            by_sub.setdefault(s.id, []).append((d, s))

        async def drain(items: list[tuple[WebhookDelivery, WebhookSubscription]]) -> None:
            for d, s in items:
                if s.status != "active" and d.kind != "test":
                    outcome = Outcome(None, "subscription disabled", 0)
                else:
                    outcome = await self.send(d, s)
                await self.record(d, s, outcome)

        await asyncio.gather(*(drain(items) for items in by_sub.values()))
        return len(leased)

    async def run_forever(self, interval: float = 0.2, concurrency: int = 4, *,
                          wake: asyncio.Event | None = None, idle: float = 2.0) -> None:
        """Up to ``concurrency`` batches in flight: a slow endpoint holds only its batch.

        Idle, it checks again after ``interval``; given ``wake`` (the hub of this process
        sets it when it queues deliveries), it waits for that instead, checking at least
        every ``idle`` seconds for retries that fall due and other processes' work."""
        slots = asyncio.Semaphore(concurrency)
        went_idle = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def batch() -> None:
            try:
                if await self.run_once() == 0:
                    went_idle.set()
            except Exception as exc:  # keep the worker alive; the lease makes it retry
                log.warning("webhook_worker_error", error=type(exc).__name__)
                went_idle.set()
            finally:
                slots.release()

        try:
            while True:
                await slots.acquire()
                if went_idle.is_set():
                    went_idle.clear()
                    if wake is None:
                        await asyncio.sleep(interval)
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(wake.wait(), idle)
                        wake.clear()
                task = asyncio.create_task(batch())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            await self.close()


def start_event_tasks(settings: Settings, worker: DeliveryWorker, hub: EventHub | None, *,
                      concurrency: int = 4) -> list[asyncio.Task[None]]:
    """The delivery worker and, where this process relays, the event hub that wakes it when
    it queues deliveries: one wiring for the gateway's own process and for `ruta worker`."""
    tasks = [asyncio.create_task(worker.run_forever(
        settings.event_poll_seconds, concurrency, wake=hub.wake_delivery if hub else None,
        idle=settings.event_wait_seconds))]
    if hub is not None:
        tasks.append(asyncio.create_task(hub.run_forever(settings.event_poll_seconds,
                                                         settings.event_wait_seconds)))
    return tasks
