"""``ruta``: the operator's command line."""

from __future__ import annotations

import asyncio
from enum import StrEnum

import typer

from shared.settings import DATABASES, load_settings_or_exit

app = typer.Typer(help="Ruta de Empleabilidad — operator commands.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


class ProcessKind(StrEnum):
    ALL = "all"
    GATEWAY = "gateway"
    REGISTRY = "registry"
    REFERRALS = "referrals"
    CREDENTIALS = "credentials"


@app.command()
def migrate(
    database: list[str] = typer.Option(list(DATABASES), "--database", "-d",
                                       help="Which databases (default: all)."),
    revision: str = typer.Option("head", help="Target revision."),
) -> None:
    """Apply the migrations of each database (creating PostgreSQL databases if missing)."""
    from shared.migrate import ensure_postgres_database, upgrade

    settings = load_settings_or_exit()

    async def run() -> None:
        for name in database:
            url = settings.database_url(name)
            await ensure_postgres_database(url)
            await upgrade(name, url, revision)
            typer.echo(f"migrated {name}")
        if "referrals" in database:
            from services.referrals.usecases.catalogue import seed_catalogue
            from shared.db import Database

            db = Database(settings.database_url("referrals"))
            try:
                added = await seed_catalogue(db=db)
            finally:
                await db.dispose()
            typer.echo(f"catalogue: {added} programmes added")

    asyncio.run(run())


@app.command("seed-demo")
def seed_demo() -> None:
    """Demo organisations, catalogue and a few profiles (idempotent)."""
    from ruta.demo import seed_demo as run

    settings = load_settings_or_exit()
    if settings.is_production:
        typer.echo("seed-demo is a development command", err=True)
        raise typer.Exit(2)
    counts = asyncio.run(run(settings))
    typer.echo("demo data: " + ", ".join(f"{k} +{v}" for k, v in counts.items()))


@app.command()
def token(
    as_: str = typer.Option("caseworker", "--as",
                            help="caseworker, coordinator, ngo_partner, provider, "
                                 "ministry_system or admin"),
    ttl: int = typer.Option(3600, help="Lifetime in seconds."),
) -> None:
    """Print a development access token for one of the demo identities."""
    from gateway.identity.devtokens import mint_dev_token
    from ruta.demo import IDENTITIES, demo_identity

    settings = load_settings_or_exit()
    if settings.is_production:
        typer.echo("dev tokens are disabled in production; use POST /oauth/token", err=True)
        raise typer.Exit(2)
    if as_ not in IDENTITIES:
        typer.echo(f"unknown identity {as_!r}; choose from {', '.join(IDENTITIES)}", err=True)
        raise typer.Exit(2)
    typer.echo(asyncio.run(mint_dev_token(settings, demo_identity(as_), ttl=ttl)))


@app.command()
def serve(
    service: ProcessKind = typer.Option(ProcessKind.ALL, help="all = the embedded shape"),
    host: str | None = typer.Option(None, help="Default RUTA_HOST"),
    port: int | None = typer.Option(None, help="Default RUTA_PORT"),
    workers: int = typer.Option(1, min=1, max=32),
) -> None:
    """Serve one process of the system (``all``: gateway and services in one process)."""
    import uvicorn

    from shared.logging import configure_logging
    from shared.metrics import prepare_multiprocess

    settings = load_settings_or_exit(
        DATABASES if service is ProcessKind.ALL else (service.value,))
    prepare_multiprocess(workers)  # /metrics sums every worker's samples
    factory = "embedded" if service is ProcessKind.ALL else service.value
    # uvicorn's own lines (start-up, shutdown, a worker's death) as JSON too: ours from the
    # start, and uvicorn told not to install its plain-text configuration
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(f"ruta.asgi:{factory}", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers, loop="uvloop", http="httptools",
                access_log=False, log_level=settings.log_level.lower(), proxy_headers=False,
                log_config=None, server_header=False)  # no "server: uvicorn" banner


# Each room may contribute its own commands (``COMMANDS`` in ``<room>/cli.py``), so domain
# commands such as ``ruta seed-synthetic`` live next to the use cases they drive; commands
# that need several rooms are the composition root's (ruta/commands.py).
COMMAND_MODULES = ("gateway.cli", "services.registry.cli", "services.referrals.cli",
                   "services.credentials.cli", "ruta.commands", "ruta.text_audit",
                   "ruta.purge")


def _register_room_commands() -> None:
    import importlib

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        for command in getattr(module, "COMMANDS", ()):
            app.command()(command)


_register_room_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
