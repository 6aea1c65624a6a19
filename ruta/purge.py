"""``ruta purge``: the retention purge of every database, once (the worker runs it on a
schedule). ``--dry-run`` prints what would go: one line per category and database with a
count, never a value.

Importing this module registers the services' own categories (the registry's audit log) with
shared.retention: ``ruta`` imports it with its commands, so ``ruta worker`` purges them too,
and the embedded shape calls :func:`install`."""

from __future__ import annotations

import asyncio

import typer

from gateway.retention import categories
from services.registry.retention import audit_category
from shared.db import Database
from shared.retention import Outcome, count_all, purge_all, register
from shared.settings import DATABASES, Settings, load_settings_or_exit


def install() -> None:
    register("registry.audit_log", audit_category)


install()


async def run_purge(settings: Settings, databases: dict[str, Database], *,
                    dry_run: bool) -> list[Outcome]:
    cats = await categories(settings, databases)
    if dry_run:
        return await count_all(databases, cats)
    return await purge_all(databases, cats, batch_size=settings.retention_batch_size)


def purge(dry_run: bool = typer.Option(False, "--dry-run",
                                       help="Count what would go; delete nothing")) -> None:
    """Delete what is past its retention period (README, "Retention"); safe beside the
    worker's scheduled purge."""
    settings = load_settings_or_exit()

    async def go() -> list[Outcome]:
        dbs = {name: Database(settings.database_url(name)) for name in DATABASES}
        try:
            return await run_purge(settings, dbs, dry_run=dry_run)
        finally:
            for db in dbs.values():
                await db.dispose()

    verb = "would delete" if dry_run else "deleted"
    outcomes = asyncio.run(go())
    for o in outcomes:
        typer.echo(f"{o.database:12} {o.category:20} "
                   + ("failed (database unavailable)" if o.failed else f"{verb} {o.rows}"))
    if any(o.failed for o in outcomes):
        raise typer.Exit(1)


COMMANDS = [purge]
