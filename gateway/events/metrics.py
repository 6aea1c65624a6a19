"""What the event hub and the delivery worker tell /metrics (names in shared/metrics.py).

Kept out of hub.py and delivery_worker.py so those read as the pipeline they are; each
function is one call at the point where the thing it counts happens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from shared.clock import as_utc, utcnow
from shared.metrics import (
    CONSUMER_POSITION,
    EVENTS_RELAYED,
    FEED_HEAD,
    OUTBOX_LAST_POLL,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PENDING,
    RELAY_ERRORS,
    RELAY_LAG,
    WEBHOOK_ATTEMPT_SECONDS,
    WEBHOOK_BACKLOG,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DISABLED,
)
from shared.outbox import EventEnvelope


def outbox_polled(source: str, events: Sequence[EventEnvelope]) -> None:
    """The relay read ``source``'s outbox: what waited there and for how long."""
    OUTBOX_LAST_POLL.labels(source).set(time.time())
    OUTBOX_PENDING.labels(source).set(len(events))
    oldest = min((as_utc(e.occurred_at) for e in events), default=None)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    OUTBOX_OLDEST_AGE.labels(source).set(max(0.0, age))


def relay_failed(source: str) -> None:
    RELAY_ERRORS.labels(source).inc()


def events_added(source: str, added: Sequence[tuple[int, EventEnvelope]]) -> None:
    """Committed to the feed: how many, how long after their own commit, the new head."""
    if not added:
        return
    now = utcnow()
    EVENTS_RELAYED.labels(source).inc(len(added))
    for _, e in added:
        RELAY_LAG.observe(max(0.0, (now - as_utc(e.occurred_at)).total_seconds()))
    FEED_HEAD.set(max(p for p, _ in added))


def consumer_at(service: str, position: int) -> None:
    """A consuming service has handled the feed up to ``position``."""
    CONSUMER_POSITION.labels(service).set(position)


def attempt_finished(delivered: bool, gave_up: bool, latency_ms: int | None) -> None:
    """One attempt recorded: delivered, given up (failed) or to be tried again."""
    WEBHOOK_DELIVERIES.labels(
        "delivered" if delivered else "failed" if gave_up else "retrying").inc()
    if latency_ms is not None:
        WEBHOOK_ATTEMPT_SECONDS.observe(latency_ms / 1000)


def endpoint_disabled(gone: bool) -> None:
    WEBHOOK_DISABLED.labels("gone" if gone else "failing").inc()


def backlog_sampled(due: int) -> None:
    WEBHOOK_BACKLOG.set(due)
