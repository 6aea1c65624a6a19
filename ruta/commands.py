"""The ``ruta`` commands that need several rooms, so they live in the composition root:
a service never imports another service or the gateway.

* ``ruta import-profiles FILE.csv`` — an NGO's spreadsheet through the bulk API of a running
  gateway, resumable, with a per-row result file (a development token comes from the
  gateway's keys);
* ``ruta rebuild-report-people`` — the referrals reports' projection of people, rebuilt from
  the registry (in process in the embedded shape).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from shared.settings import load_settings_or_exit

if TYPE_CHECKING:
    import httpx

    from shared.settings import Settings


def import_profiles(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV export of the spreadsheet (comma or semicolon)."),
    org: str | None = typer.Option(
        None, "--org", help="Development: register for this organisation with a dev token "
                            "(production: pass --token from POST /oauth/token)."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The gateway."),
    token: str | None = typer.Option(None, "--token", envvar="RUTA_TOKEN",
                                     help="Bearer token (ngo_partner or caseworker)."),
    batch_size: int = typer.Option(500, "--batch-size", min=1, max=1000),
    results: Path | None = typer.Option(None, "--results",
                                        help="Per-row results CSV (default FILE.results.csv)."),
    language: str = typer.Option("es", "--lang", help="Language of the error messages."),
) -> None:
    """Import people from a CSV through the bulk API; rerun the same command to resume."""
    from services.registry.importer import ImportAborted, run_import

    settings = load_settings_or_exit()
    if token is None:
        if org is None or settings.is_production:
            typer.echo("pase --token (o --org en desarrollo) / pass --token (or --org in "
                       "development)", err=True)
            raise typer.Exit(2)
        token = _dev_token(settings, org)
    results = results or file.with_name(file.stem + ".results.csv")
    state = results.with_name(results.name + ".state.json")

    async def run() -> None:
        from services.registry.importer import read_rows

        total = len(read_rows(file)[0])
        async with _http(url) as client:
            with typer.progressbar(length=total, label="importando") as bar:
                summary = await run_import(file, client, token=token, results=results,
                                           state_path=state, batch_size=batch_size,
                                           on_batch=bar.update, language=language)
        typer.echo(f"{summary.rows} filas: {summary.created} creadas, {summary.duplicate} "
                   f"duplicadas, {summary.invalid} no válidas "
                   f"({summary.batches_sent} lotes enviados, {summary.batches_skipped} ya "
                   f"hechos) → {results}")

    try:
        asyncio.run(run())
    except ImportAborted as exc:
        typer.echo(f"importación detenida / import stopped: {exc}. Vuelva a ejecutar el mismo "
                   f"comando para reanudar / rerun the same command to resume.", err=True)
        raise typer.Exit(1) from None


def _http(url: str) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(base_url=url.rstrip("/"), timeout=httpx.Timeout(120, connect=5))


def _dev_token(settings: Settings, org: str) -> str:
    from gateway.identity.devtokens import mint_dev_token
    from shared.identity import Identity, Role

    identity = Identity(subject=f"import-{org}", role=Role.NGO_PARTNER, organisation_id=org)
    return asyncio.run(mint_dev_token(settings, identity, ttl=6 * 3600))


def rebuild_report_people(
    page: int = typer.Option(1000, min=1, max=5000, help="People per registry page."),
) -> None:
    """Rebuild the reports' projection of people (ids and non-identifying attributes) from
    the registry: when the projection starts late, or to repair it. Pages through the
    registry's ``/internal/profiles/attributes`` as the referrals service (its API in the
    distributed shape, ``RUTA_REGISTRY_URL``; in process otherwise). Safe to re-run."""
    from services.referrals.reports.projection import rebuild
    from services.registry.app import create_app as create_registry
    from shared.db import Database
    from shared.peers import Peers

    settings = load_settings_or_exit()

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


COMMANDS = [import_profiles, rebuild_report_people]
