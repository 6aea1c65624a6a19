"""The application as the benchmarks see it: every name bench/ takes from gateway/,
services/, shared/ and ruta/, in one table (``NAMES``; ``MODULES`` for whole modules).

Scripts write ``app.Settings()``, ``app.mint_dev_token(...)``: each name is imported on first
use, not when the script starts, so a script clears ``RUTA_*`` from its environment before the
application reads it, and a reference app (bench/refapps.py) or the load generator loads no
more of the application than it uses. When a module of the application moves, fix its line
here (and in the ``TYPE_CHECKING`` block, which only serves the type checker); then
``python bench/kit/app.py`` imports every name and says which ones are missing.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.edge.policy import SCOPES_BY_ROLE
    from gateway.edge.upstreams import HTTPUpstream
    from gateway.events.hub import record_events
    from gateway.events.models import WebhookSubscription
    from gateway.events.signing import new_secret
    from gateway.identity.devtokens import mint_dev_token
    from gateway.identity.keys import KeyStore
    from gateway.identity.tokens import TokenVerifier
    from ruta.asgi import tune_gc
    from ruta.distributed import DistributedSystem, free_port, prepare_databases, wait_healthy
    from services.referrals.reports import queries as referral_reports
    from services.registry import access as registry_access
    from services.registry import documents as registry_documents
    from services.registry import search as registry_search
    from services.registry import synthetic as registry_synthetic
    from services.registry import watch as registry_watch
    from services.registry.hot_reads import PG_BY_DOCUMENT_AUDITED, PG_READ_AUDITED
    from services.registry.synthetic import SyntheticPeople
    from shared.clock import utcnow
    from shared.crypto import Sealer
    from shared.db import Database
    from shared.http import NO_NATIVE_TELEMETRY
    from shared.identity import ASSERTION_HEADER, AssertionSigner, Identity, Role
    from shared.logging import configure_logging
    from shared.migrate import upgrade
    from shared.outbox import EventEnvelope
    from shared.settings import DATABASES, Settings

    # what this module hands out: the imports above are for the type checker only
    __all__ = [
        "ASSERTION_HEADER", "DATABASES", "NO_NATIVE_TELEMETRY", "PG_BY_DOCUMENT_AUDITED",
        "PG_READ_AUDITED", "SCOPES_BY_ROLE", "AssertionSigner", "Database",
        "DistributedSystem", "EventEnvelope", "HTTPUpstream", "Identity", "KeyStore", "Role",
        "Sealer", "Settings", "SyntheticPeople", "TokenVerifier", "WebhookSubscription",
        "configure_logging", "free_port", "mint_dev_token", "new_secret", "prepare_databases",
        "record_events", "referral_reports", "registry_access", "registry_documents",
        "registry_search", "registry_synthetic", "registry_watch", "tune_gc", "upgrade", "utcnow",
        "wait_healthy",
    ]

# name -> the module that defines it
NAMES: dict[str, str] = {
    "mint_dev_token": "gateway.identity.devtokens",
    "record_events": "gateway.events.hub",
    "WebhookSubscription": "gateway.events.models",
    "SCOPES_BY_ROLE": "gateway.edge.policy",
    "HTTPUpstream": "gateway.edge.upstreams",
    "KeyStore": "gateway.identity.keys",
    "TokenVerifier": "gateway.identity.tokens",
    "new_secret": "gateway.events.signing",
    "tune_gc": "ruta.asgi",
    "DistributedSystem": "ruta.distributed",
    "free_port": "ruta.distributed",
    "prepare_databases": "ruta.distributed",
    "wait_healthy": "ruta.distributed",
    "PG_BY_DOCUMENT_AUDITED": "services.registry.hot_reads",
    "PG_READ_AUDITED": "services.registry.hot_reads",
    "SyntheticPeople": "services.registry.synthetic",
    "Sealer": "shared.crypto",
    "Database": "shared.db",
    "utcnow": "shared.clock",
    "EventEnvelope": "shared.outbox",
    "NO_NATIVE_TELEMETRY": "shared.http",
    "ASSERTION_HEADER": "shared.identity",
    "AssertionSigner": "shared.identity",
    "Identity": "shared.identity",
    "Role": "shared.identity",
    "configure_logging": "shared.logging",
    "DATABASES": "shared.settings",
    "Settings": "shared.settings",
    "upgrade": "shared.migrate",
}
# name -> a module used whole (its functions are the statements a benchmark compares with)
MODULES: dict[str, str] = {
    "referral_reports": "services.referrals.reports.queries",
    "registry_access": "services.registry.access",
    "registry_documents": "services.registry.documents",
    "registry_search": "services.registry.search",
    "registry_synthetic": "services.registry.synthetic",
    "registry_watch": "services.registry.watch",
}


def __getattr__(name: str) -> Any:
    if name in MODULES:
        value: Any = importlib.import_module(MODULES[name])
    elif name in NAMES:
        value = getattr(importlib.import_module(NAMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # resolved once
    return value


def missing() -> list[str]:
    """Every name of the table that does not import, with the reason."""
    out = []
    for name in [*NAMES, *MODULES]:
        try:
            __getattr__(name)
        except (ImportError, AttributeError) as exc:
            where = NAMES.get(name) or MODULES[name]
            out.append(f"{name} ({where}): {type(exc).__name__}: {exc}")
    return out


def _main() -> None:
    bad = missing()
    for line in bad:
        print(f"missing: {line}")
    print(f"{len(NAMES) + len(MODULES) - len(bad)}/{len(NAMES) + len(MODULES)} names import")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    # run as a file: the repository root is two levels up, the kit itself one
    from pathlib import Path

    sys.path[:0] = [str(Path(__file__).resolve().parents[2])]
    _main()
