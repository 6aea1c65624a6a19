"""Operator commands of the credentials service (registered by ``ruta``'s CLI)."""

from __future__ import annotations

import asyncio

import typer

from shared.settings import load_settings_or_exit


def rotate_issuer_key() -> None:
    """Make a new signing key for verifiable credentials; the old ones keep verifying."""
    from services.credentials.usecases.issuance import rotate_issuer_key as rotate
    from shared.db import Database

    settings = load_settings_or_exit()

    async def run() -> str:
        db = Database(settings.database_url("credentials"))
        try:
            return await rotate(db=db, settings=settings)
        finally:
            await db.dispose()

    kid = asyncio.run(run())
    typer.echo(f"new issuer key: {kid}")


COMMANDS = [rotate_issuer_key]
