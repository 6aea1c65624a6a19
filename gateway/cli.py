"""Operator commands for the gateway (registered in ``ruta`` through ``COMMANDS``)."""

from __future__ import annotations

import asyncio

import typer

from shared.db import Database
from shared.identity import Identity, Role
from shared.settings import load_settings_or_exit

_CLI_ADMIN = Identity(subject="cli", role=Role.ADMIN, organisation_id=None)


def create_organisation(
    org_id: str = typer.Argument(..., help="Slug, e.g. ong-lima"),
    name: str = typer.Option(..., help="Display name"),
    kind: str = typer.Option(..., help="ngo, provider, ministry, public_employment_service"),
    country: str = typer.Option(..., help="PE or EC"),
    regions: str = typer.Option(..., help="Comma-separated ISO 3166-2 codes, e.g. PE-LMA,PE-CAL"),
) -> None:
    """Register an organisation (same rules as POST /v1/organisations)."""
    from gateway.identity import organisations
    from gateway.identity.schemas import OrganisationCreate

    data = OrganisationCreate.model_validate({
        "id": org_id, "name": name, "kind": kind, "country": country,
        "regions": [r.strip() for r in regions.split(",") if r.strip()]})

    async def run() -> None:
        db = Database(load_settings_or_exit().database_url("gateway"))
        try:
            await organisations.create_organisation(db=db, identity=_CLI_ADMIN, data=data,
                                                    idempotency=None)
        finally:
            await db.dispose()

    asyncio.run(run())
    typer.echo(f"organisation {org_id} created")


def create_client(
    organisation_id: str = typer.Option("", help="Owning organisation (empty for admin)"),
    role: str = typer.Option(..., help="ngo_partner, provider, ministry_system or admin"),
    name: str = typer.Option(..., help="What the client is"),
    regions: str = typer.Option("", help="Comma-separated; empty = the organisation's"),
) -> None:
    """Register a machine client and print its credentials (the secret only this once)."""
    from gateway.identity import machine_clients
    from gateway.identity.schemas import ClientCreate

    data = ClientCreate.model_validate({
        "name": name, "organisation_id": organisation_id or None, "role": role,
        "regions": [r.strip() for r in regions.split(",") if r.strip()]})

    async def run() -> None:
        db = Database(load_settings_or_exit().database_url("gateway"))
        try:
            client = await machine_clients.create_client(db=db, identity=_CLI_ADMIN, data=data)
        finally:
            await db.dispose()
        typer.echo(f"client_id={client.client_id}")
        typer.echo(f"client_secret={client.client_secret}")

    asyncio.run(run())


def rotate_signing_key() -> None:
    """New access-token signing key; old keys keep verifying until their tokens expire."""
    from gateway.identity.keys import rotate_signing_key as rotate

    async def run() -> str:
        settings = load_settings_or_exit()
        db = Database(settings.database_url("gateway"))
        try:
            return await rotate(db, settings)
        finally:
            await db.dispose()

    typer.echo(f"new signing key {asyncio.run(run())}")


def worker(
    worker_id: str = typer.Option("", help="Name in the delivery log (default: random)"),
    batch_size: int = typer.Option(20, min=1, max=500),
    lease_seconds: float = typer.Option(60.0, min=1.0),
    relay: bool = typer.Option(True, help="Also collect the services' outboxes into the feed"),
    concurrency: int = typer.Option(4, min=1, max=64, help="Batches in flight at once"),
) -> None:
    """Deliver webhooks (and relay events) until stopped; safe to run several at once."""
    from gateway.edge.upstreams import http_upstreams
    from gateway.events.delivery_worker import DeliveryWorker, start_event_tasks
    from gateway.events.hub import EventHub
    from gateway.events.subscriptions import endpoint_disabled_event
    from gateway.retention import purge_task
    from shared.logging import configure_logging
    from shared.peers import Peers
    from shared.settings import DATABASES

    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.log_json)

    async def run() -> None:
        db = Database(settings.database_url("gateway"), pool_size=settings.database_pool_size)
        peers = Peers(settings)
        w = DeliveryWorker(db, settings, worker_id=worker_id or None, batch_size=batch_size,
                           lease_seconds=lease_seconds, emit_disabled=endpoint_disabled_event)
        hub = EventHub(db, peers, http_upstreams(settings).keys()) if relay else None
        # the scheduled retention purge reaches every database (README, "Retention")
        others = {n: Database(settings.database_url(n)) for n in DATABASES if n != "gateway"}
        tasks = start_event_tasks(settings, w, hub, concurrency=concurrency)
        try:
            await asyncio.gather(*tasks, *purge_task(settings, {"gateway": db, **others}))
        finally:
            await peers.close()
            for other in others.values():
                await other.dispose()
            await db.dispose()

    asyncio.run(run())


COMMANDS = [create_organisation, create_client, rotate_signing_key, worker]
