"""What the gateway's ``/readyz`` checks, in both shapes (issue 18 item 4).

Embedded: the gateway's database and each service's own: the three service apps run in this
process, so their databases are this process's dependencies too (before, a registry database
refusing connections left the embedded shape "ready"). Distributed: the gateway's own
database only; each service's ``/readyz`` checks its own, so a service down takes that
service out of rotation, not the gateway, which keeps answering 503 problems for the routes
it cannot serve (``make faults``: "gateway's /readyz stays up"). Redis in both when the rate
limiter uses it, as optional: without it the limiter falls back to per-process buckets, so
its outage makes the answer "degraded", not 503. ``/healthz`` checks none of them.
"""

from __future__ import annotations

from gateway.edge.ratelimit import Limiter, RedisLimiter
from gateway.edge.upstreams import Upstream, in_process_databases
from shared.db import Database
from shared.observability import ReadinessCheck

REDIS = "redis"
OPTIONAL = frozenset({REDIS})


def readiness_checks(db: Database, upstreams: dict[str, Upstream],
                     limiter: Limiter) -> dict[str, ReadinessCheck]:
    checks: dict[str, ReadinessCheck] = {"database": db.ping}
    for name, service_db in in_process_databases(upstreams).items():
        checks[f"{name}.database"] = service_db.ping
    if isinstance(limiter, RedisLimiter):
        checks[REDIS] = limiter.ping
    return checks
