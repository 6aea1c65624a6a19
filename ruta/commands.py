"""The ``ruta`` commands that need several rooms, so they live in the composition root:
a service never imports another service or the gateway.

* ``ruta import-profiles FILE.csv|FILE.xlsx`` — an NGO's spreadsheet through the bulk API of
  a running gateway, resumable, with a per-row result file (a development token comes from
  the gateway's keys; the run itself is ruta/importing.py);
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
    from shared.settings import Settings


def import_profiles(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="The spreadsheet: .xlsx, or CSV (comma or semicolon)."),
    org: str | None = typer.Option(
        None, "--org", help="Development: register for this organisation with a dev token "
                            "(production: pass --token from POST /oauth/token)."),
    url: str | None = typer.Option(None, "--url",
                                   help="The gateway (default http://RUTA_HOST:RUTA_PORT)."),
    token: str | None = typer.Option(None, "--token", envvar="RUTA_TOKEN",
                                     help="Bearer token (ngo_partner or caseworker)."),
    batch_size: int = typer.Option(500, "--batch-size", min=1, max=1000),
    results: Path | None = typer.Option(None, "--results",
                                        help="Per-row results CSV (default FILE.results.csv)."),
    language: str = typer.Option("es", "--lang", help="Language of the error messages."),
    ignore_unknown_columns: bool = typer.Option(
        False, "--ignore-unknown-columns",
        help="Leave out the columns the import does not know (refused otherwise)."),
) -> None:
    """Import people from a spreadsheet through the bulk API; rerun the same command to
    resume (docs/import-profiles.md)."""
    from ruta.importing import ImportRun

    settings = load_settings_or_exit()
    if token is None:
        if org is None or settings.is_production:
            typer.echo("pase --token (o --org en desarrollo) / pass --token (or --org in "
                       "development)", err=True)
            raise typer.Exit(2)
        token = _dev_token(settings, org)
    ImportRun(file=file, url=url or gateway_url(settings), token=token,
              batch_size=batch_size, results=results, language=language,
              ignore_unknown_columns=ignore_unknown_columns,
              resume=resume_command(file, org=org, url=url, token_given=_token_argument(),
                                    batch_size=batch_size, results=results, language=language,
                                    ignore=ignore_unknown_columns)).run()


def gateway_url(settings: Settings) -> str:
    """The gateway this machine serves (``RUTA_HOST``/``RUTA_PORT``, as ``ruta serve``)."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def _token_argument() -> bool:
    import sys

    return any(a == "--token" or a.startswith("--token=") for a in sys.argv[1:])


def resume_command(file: Path, *, org: str | None, url: str | None, token_given: bool,
                   batch_size: int, results: Path | None, language: str, ignore: bool) -> str:
    """The command that resumes this import: the same file and options (never the token
    itself)."""
    import shlex

    parts = ["ruta", "import-profiles", str(file)]
    if org is not None:
        parts += ["--org", org]
    if url is not None:
        parts += ["--url", url]
    if batch_size != 500:
        parts += ["--batch-size", str(batch_size)]
    if results is not None:
        parts += ["--results", str(results)]
    if language != "es":
        parts += ["--lang", language]
    if ignore:
        parts.append("--ignore-unknown-columns")
    command = shlex.join(parts)
    return command + (' --token "$RUTA_TOKEN"' if token_given else "")


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
