"""Operator commands of the referrals service (registered by ``ruta``'s CLI)."""

from __future__ import annotations

import asyncio

import typer


def mark_overdue() -> None:
    """Announce referrals that became overdue (``referral.overdue``, once per referral and
    deadline). Safe to run from several places at once; the service also runs it every
    minute."""
    from services.referrals.sla import mark_overdue as run
    from shared.db import Database
    from shared.settings import Settings

    try:
        settings = Settings()
    except Exception as exc:  # invalid configuration: say why, exit non-zero
        typer.echo(f"configuración no válida / invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from None

    async def go() -> int:
        db = Database(settings.database_url("referrals"))
        try:
            return await run(db=db)
        finally:
            await db.dispose()

    count = asyncio.run(go())
    typer.echo(f"referrals marked overdue: {count}")


def rebuild_report_people(
    page: int = typer.Option(1000, min=1, max=5000, help="People per registry page."),
) -> None:
    """Rebuild the reports' projection of people (ids and non-identifying attributes) from
    the registry: when the projection starts late, or to repair it. Pages through the
    registry's ``/internal/profiles/attributes`` as the referrals service (its API in the
    distributed shape, ``RUTA_REGISTRY_URL``; in process otherwise). Safe to re-run."""
    from services.referrals.reports.projection import rebuild
    from services.registry.app import create_app as create_registry
    from shared.clients import Peers
    from shared.db import Database
    from shared.settings import Settings

    try:
        settings = Settings()
    except Exception as exc:  # invalid configuration: say why, exit non-zero
        typer.echo(f"configuración no válida / invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from None

    async def go() -> int:
        db = Database(settings.database_url("referrals"))
        peers = Peers(settings)
        registry = None
        if settings.upstream_url("registry") is None:
            registry = create_registry(settings)
            peers.bind_apps({"registry": registry})
        try:
            return await rebuild(db, peers, page=page)
        finally:
            await peers.close()
            await db.dispose()
            if registry is not None:
                await registry.state.db.dispose()

    count = asyncio.run(go())
    typer.echo(f"report people rebuilt: {count}")


COMMANDS = [mark_overdue, rebuild_report_people]
