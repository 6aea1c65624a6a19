"""Operator commands of the referrals service (registered by ``ruta``'s CLI)."""

from __future__ import annotations

import asyncio

import typer

from shared.settings import load_settings_or_exit


def mark_overdue() -> None:
    """Announce referrals that became overdue (``referral.overdue``, once per referral and
    deadline). Safe to run from several places at once; the service also runs it every
    minute."""
    from services.referrals.sla import mark_overdue as run
    from shared.db import Database

    settings = load_settings_or_exit()

    async def go() -> int:
        db = Database(settings.database_url("referrals"))
        try:
            return await run(db=db)
        finally:
            await db.dispose()

    count = asyncio.run(go())
    typer.echo(f"referrals marked overdue: {count}")


COMMANDS = [mark_overdue]
