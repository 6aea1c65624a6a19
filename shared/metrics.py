"""Application metrics beyond request counts: the event pipeline, webhooks, pools, rate
limits, idempotency, periodic jobs and denied object access.

Defined in one place so the names the alerting rules and the dashboard use (deploy/) are
checked against what the code exports (tests/operations/test_metrics_names.py). Labels carry
only bounded, non-personal values: service, route template, outcome, class, job name; never
an id, a path with ids in it, or anything a person typed.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import Scope

# The route template travels back to the layer that counts the request. In one process (the
# gateway's own routes, a service app mounted in the embedded shape) through a slot every
# copy of the ASGI scope shares; from a service process to the gateway (distributed) through
# a response header, which the gateway removes before answering.
ROUTE_SLOT = "ruta.route_slot"
ROUTE_HEADER = b"x-ruta-route"

def open_route_slot(scope: Scope) -> list[str]:
    """Called once, by the outermost request layer: the slot the inner layers fill."""
    slot: list[str] = []
    scope[ROUTE_SLOT] = slot
    return slot


def template_of(scope: Scope) -> str | None:
    """The template of the route the router matched in this (copy of the) scope."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else None


def note_route(scope: Scope, template: str | None = None) -> None:
    """Hands this layer's route template to the outermost layer (first one wins: the
    innermost layer knows the most exact template and finishes first)."""
    slot = scope.get(ROUTE_SLOT)
    if slot is None or slot:
        return
    template = template or template_of(scope)
    if template:
        slot.append(template)


def route_label(scope: Scope, slot: list[str]) -> str:
    """The service's template when an inner layer told it, else this layer's own route,
    else the front door's route-table pattern (a request refused before it was forwarded),
    else ``unmatched`` (no route: the label never carries a raw path)."""
    if slot:
        return slot[0]
    return template_of(scope) or scope.get("ruta_route") or "unmatched"


JOB_LAST_SUCCESS = Gauge(
    "ruta_job_last_success_timestamp_seconds",
    "Unix time of the last successful run of each periodic job", ["task"],
    multiprocess_mode="max")


def record_job_success(job: str) -> None:
    """A periodic job (purge, relay sweep, key rotation) finished a run without error: the
    ``RutaJobStale`` alert fires when this stops moving. The label is ``task``, not ``job``:
    Prometheus sets ``job`` on every scraped series itself."""
    JOB_LAST_SUCCESS.labels(job).set(time.time())


# --- the event pipeline (gateway's hub: outboxes → feed) ------------------------------------
OUTBOX_PENDING = Gauge(
    "ruta_outbox_pending_events",
    "Events the relay found waiting in a service's outbox at its last poll (up to one batch)",
    ["service"], multiprocess_mode="mostrecent")
OUTBOX_OLDEST_AGE = Gauge(
    "ruta_outbox_oldest_pending_age_seconds",
    "Age of the oldest unrelayed event in a service's outbox at the relay's last poll",
    ["service"], multiprocess_mode="mostrecent")
OUTBOX_LAST_POLL = Gauge(
    "ruta_outbox_last_poll_timestamp_seconds",
    "Unix time the relay last read a service's outbox successfully", ["service"],
    multiprocess_mode="max")
EVENTS_RELAYED = Counter(
    "ruta_events_relayed_total", "Events added to the feed, by the service that emitted them",
    ["service"])
RELAY_ERRORS = Counter(
    "ruta_event_relay_errors_total", "Failed relay polls of a service's outbox", ["service"])
RELAY_LAG = Histogram(
    "ruta_event_relay_lag_seconds",
    "From an event's commit in its service to its place in the feed",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900))
FEED_HEAD = Gauge(
    "ruta_event_feed_head_position", "Position of the newest event in the merged feed",
    multiprocess_mode="max")
CONSUMER_POSITION = Gauge(
    "ruta_event_consumer_position",
    "Feed position a consuming service has handled up to (lag: feed head minus this)",
    ["consumer"], multiprocess_mode="max")

# --- outbound webhooks ----------------------------------------------------------------------
WEBHOOK_DELIVERIES = Counter(
    "ruta_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, retrying (will be tried again), failed "
    "(given up)", ["outcome"])
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "ruta_webhook_attempt_duration_seconds", "Time an endpoint took to answer an attempt",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WEBHOOK_BACKLOG = Gauge(
    "ruta_webhook_backlog", "Deliveries due and not yet delivered (sampled by the worker)",
    multiprocess_mode="mostrecent")
WEBHOOK_DISABLED = Counter(
    "ruta_webhook_endpoints_disabled_total",
    "Webhook endpoints disabled: gone (410) or failing for 5 days", ["reason"])

# --- the rest -------------------------------------------------------------------------------
RATE_LIMITED = Counter(
    "ruta_rate_limit_rejections_total", "Requests refused with 429, by rate-limit class",
    ["class"])
IDEMPOTENCY = Counter(
    "ruta_idempotency_outcomes_total",
    "Idempotent writes answered from a stored response (replayed), refused while the first is "
    "in flight (in_flight, 409) or with a key reused for another body (key_reused, 422)",
    ["outcome"])
ACCESS_DENIED = Counter(
    "ruta_access_denied_total",
    "Object access answered 404 because it is outside the caller's scope (or absent)",
    ["service", "route"])


_DATABASES = ("gateway", "registry", "referrals", "credentials")


def database_label(name: str | None) -> str:
    """The logical database (``ruta_registry``, ``.../registry.db`` → ``registry``): bounded,
    never a host, a user or a file path."""
    parts = re.split(r"[^a-z]+", (name or "").lower().removesuffix(".db"))
    return next((p for p in reversed(parts) if p in _DATABASES), "other")


class PoolCollector(Collector):
    """Connection pools read when scraped (size, checked out, callers waiting): nothing is
    counted on the request path. Several engines on one database (tests, `ruta` commands in
    the same process) are summed under its label. In multiprocess mode each worker's pools
    are its own: the figures are of the worker that answered the scrape."""

    def __init__(self) -> None:
        self._engines: weakref.WeakSet[Any] = weakref.WeakSet()

    def track(self, database: Any) -> None:
        self._engines.add(database)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        totals: dict[str, list[int]] = {}
        for database in list(self._engines):
            pool = database.engine.sync_engine.pool
            size = getattr(pool, "size", None)
            if size is None:  # NullPool: nothing pooled
                continue
            row = totals.setdefault(database_label(database.url.database), [0, 0, 0])
            row[0] += size()
            row[1] += pool.checkedout()
            row[2] += _waiting(pool) + getattr(database, "statements_waiting", 0)
        for i, (name, doc) in enumerate((
                ("ruta_db_pool_size", "Connections a pool may hold"),
                ("ruta_db_pool_in_use", "Connections checked out of the pool"),
                ("ruta_db_pool_waiting", "Callers waiting for a connection"))):
            family = GaugeMetricFamily(name, doc, labels=["database"])
            for label, values in sorted(totals.items()):
                family.add_metric([label], values[i])
            yield family


def _waiting(pool: Any) -> int:
    """Callers blocked on the pool's queue: the fair queue's line (shared/fairgate.py), else
    the waiting getters of the asyncio.Queue SQLAlchemy's async queue wraps."""
    queue = getattr(pool, "_pool", None)
    line = getattr(queue, "waiting", None)
    if isinstance(line, int):
        return line
    getters = getattr(getattr(queue, "_queue", None), "_getters", None)
    return sum(1 for g in getters if not g.done()) if getters is not None else 0


POOLS = PoolCollector()
REGISTRY.register(POOLS)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposition() -> bytes:
    """What ``/metrics`` answers. With ``PROMETHEUS_MULTIPROC_DIR`` set (``ruta serve
    --workers N`` sets it), every worker writes its samples to files there and whichever
    worker answers the scrape reads them all: counters and histograms are summed, gauges take
    the newest (or highest) value. Otherwise the process's own registry."""
    if not os.environ.get(MULTIPROC_ENV):
        return generate_latest()
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(POOLS)
    return generate_latest(registry)


def prepare_multiprocess(workers: int) -> None:
    """Before uvicorn starts ``workers`` processes: a fresh directory for their samples, or
    the operator's (``PROMETHEUS_MULTIPROC_DIR``) emptied of a previous run's files, as
    prometheus_client requires. One worker needs none."""
    if workers <= 1:
        return
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="ruta-metrics-")
        return
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


class Sampler:
    """At most one sample every ``every`` seconds: a gauge read from the database (the
    webhook backlog) must not add a query to every batch under load."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.every
        return True


__all__ = ["Counter", "Gauge", "Histogram", "record_job_success"]
