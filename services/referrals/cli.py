"""Operator commands of the referrals service (registered by ``ruta``'s CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import typer

from shared.settings import load_settings_or_exit


def _run(job: Callable[..., Awaitable[int]]) -> int:
    """Run one of the service's periodic jobs once against the configured database."""
    from shared.db import Database

    settings = load_settings_or_exit()

    async def go() -> int:
        db = Database(settings.database_url("referrals"))
        try:
            return await job(db=db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def mark_overdue() -> None:
    """Announce referrals that became overdue (``referral.overdue``, once per referral and
    deadline). Safe to run from several places at once; the service also runs it every
    minute."""
    from services.referrals.sla import mark_overdue as run

    typer.echo(f"referrals marked overdue: {_run(run)}")


def close_vacancies() -> None:
    """Close the open vacancies whose valid_until has passed in their country
    (``vacancy.closed``). Safe to run from several places at once; the service also runs it
    every minute."""
    from services.referrals.vacancies.usecases import close_expired

    typer.echo(f"vacancies closed: {_run(close_expired)}")


def refresh_report_rollups() -> None:
    """Build the indicators' monthly rollups (issue 22): every month not built yet and every
    month changed since its build, one transaction each. Reports are exact without it (they
    read the raw rows of such months); it only makes them fast. The service also runs it
    every few minutes; safe to re-run."""
    from services.referrals.reports.rollups import refresh

    typer.echo(f"report rollup months built: {_run(refresh)}")


COMMANDS = [mark_overdue, close_vacancies, refresh_report_rollups]
