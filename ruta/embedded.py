"""The embedded shape: the gateway and the three services in one process.

The gateway hands each request to the service app in-process; every service still has its
own database (a SQLite file each by default) and reaches no other service's tables.
"""

from __future__ import annotations

from fastapi import FastAPI

from gateway.app import create_app as create_gateway
from gateway.edge.upstreams import ASGIUpstream, Upstream
from ruta.purge import install as install_retention
from services.credentials.app import create_app as create_credentials
from services.referrals.app import create_app as create_referrals
from services.registry.app import create_app as create_registry
from shared.db import Database
from shared.settings import Settings

SERVICE_FACTORIES = {
    "registry": create_registry,
    "referrals": create_referrals,
    "credentials": create_credentials,
}


def create_service(name: str, settings: Settings, database: Database | None = None) -> FastAPI:
    return SERVICE_FACTORIES[name](settings, database)


def create_embedded_app(
    settings: Settings, databases: dict[str, Database] | None = None
) -> FastAPI:
    install_retention()  # the registry's audit log in the background purge
    dbs = databases or {}
    apps = {name: factory(settings, dbs.get(name)) for name, factory in SERVICE_FACTORIES.items()}
    for app in apps.values():
        app.state.peers.bind_apps(apps)
    upstreams: dict[str, Upstream] = {name: ASGIUpstream(name, a) for name, a in apps.items()}
    return create_gateway(settings, dbs.get("gateway"), upstreams)
