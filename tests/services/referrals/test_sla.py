"""SLAs: due dates from the provider's service levels, the overdue filter, and the job that
announces overdue referrals once per referral and deadline (function, CLI, in-app loop)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from typer.testing import CliRunner

from services.referrals.app import create_app
from services.referrals.models import Referral
from services.referrals.sla import add_days, is_overdue, mark_overdue
from services.referrals.usecases.catalogue import seed_catalogue
from shared.clock import utcnow
from shared.db import Database
from shared.migrate import upgrade
from shared.settings import Settings
from tests.support.referrals import Route, events

FRIDAY = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def test_working_and_calendar_days() -> None:
    assert add_days(FRIDAY, 1, working=True) == FRIDAY + timedelta(days=3)  # Monday
    assert add_days(FRIDAY, 5, working=True) == FRIDAY + timedelta(days=7)
    assert add_days(FRIDAY, 30, working=True) == FRIDAY + timedelta(days=42)
    assert add_days(FRIDAY, 1, working=False) == FRIDAY + timedelta(days=1)
    assert add_days(FRIDAY, 0, working=True) == FRIDAY


def test_what_overdue_means() -> None:
    past, future = FRIDAY - timedelta(days=1), FRIDAY + timedelta(days=1)
    assert is_overdue("requested", past, future, FRIDAY)
    assert not is_overdue("requested", future, past, FRIDAY)
    assert is_overdue("accepted", future, past, FRIDAY)
    assert is_overdue("in_progress", future, past, FRIDAY)
    assert not is_overdue("on_hold", past, past, FRIDAY)  # the clock stops on hold
    for final in ("completed", "failed", "rejected", "cancelled"):
        assert not is_overdue(final, past, past, FRIDAY)


async def test_due_dates_follow_the_providers_sla(route: Route) -> None:
    pid = await route.person(consents_for=("sunedu",))
    before = utcnow()
    r = await route.referral(pid, "pe-sunedu-reconocimiento", "sunedu")
    due_accept = datetime.fromisoformat(r["due_accept_at"])
    assert add_days(before, 5, working=True) <= due_accept <= add_days(utcnow(), 5,
                                                                        working=True)
    accepted = await route.walk(r["id"], route.provider("sunedu"), ("accept", {}))
    due_complete = datetime.fromisoformat(accepted["due_complete_at"])
    assert due_complete >= add_days(datetime.fromisoformat(accepted["accepted_at"]), 30,
                                    working=True) - timedelta(seconds=1)


async def _age(db: Database, referral_id: str, **dates: datetime) -> None:
    async with db.uow() as uow:
        await uow.session.execute(update(Referral).where(Referral.id == referral_id)
                                  .values(**dates))
        await uow.commit()


async def test_overdue_is_announced_once_per_deadline_and_filtered(
    route: Route, dbs: dict[str, Database]
) -> None:
    db = dbs["referrals"]
    pid = await route.person(consents_for=("mtpe-empleo", "sunedu"))
    late = await route.referral(pid, "pe-empleo", "mtpe-empleo")
    on_time = await route.referral(pid, "pe-sunedu-reconocimiento", "sunedu")
    yesterday = utcnow() - timedelta(days=1)
    await _age(db, late["id"], due_accept_at=yesterday)

    overdue = await route.client.get("/v1/referrals", params={"overdue": "true"},
                                     headers=route.h())
    assert [r["id"] for r in overdue.json()["items"]] == [late["id"]]
    assert overdue.json()["items"][0]["overdue"] is True
    fine = await route.client.get("/v1/referrals", params={"overdue": "false"},
                                  headers=route.h())
    assert [r["id"] for r in fine.json()["items"]] == [on_time["id"]]

    assert await mark_overdue(db=db) == 1
    assert await mark_overdue(db=db) == 0  # once
    announced = await events(db, type_="referral.overdue")
    assert [(e["subject_id"], e["data"]["phase"]) for e in announced] == [
        (late["id"], "accept")]
    assert announced[0]["data"]["provider_organisation_id"] == "mtpe-empleo"
    assert announced[0]["data"]["organisations"] == ["ong-lima", "mtpe-empleo"]
    assert "notes" not in announced[0]["data"]

    # accepted late, then late again to complete: the second deadline is announced once
    provider = route.provider("mtpe-empleo")
    await route.walk(late["id"], provider, ("accept", {}), ("start", {}))
    await _age(db, late["id"], due_complete_at=yesterday)
    assert await mark_overdue(db=db) == 1
    assert await mark_overdue(db=db) == 0
    # on hold the clock stops: not overdue, nothing announced
    held = await route.walk(late["id"], provider, ("hold", {"reason": "Espera documento"}))
    assert held["overdue"] is False
    phases = [e["data"]["phase"] for e in await events(db, type_="referral.overdue")]
    assert phases == ["accept", "complete"]


def test_mark_overdue_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'referrals.db'}"

    async def prepare() -> None:
        await upgrade("referrals", url)
        db = Database(url)
        try:
            await seed_catalogue(db=db)
            now = utcnow()
            async with db.uow() as uow:
                uow.session.add(Referral(
                    profile_id="p-1", profile_organisation_id="ong-lima", region="PE-LMA",
                    country="PE", programme_id="pe-empleo",
                    route_type="public_employment_service", outcome_kind="employment",
                    provider_id="mtpe-empleo", provider_organisation_id="mtpe-empleo",
                    referring_organisation_id="ong-lima", referring_subject="cw",
                    status="requested", due_accept_at=now - timedelta(days=2),
                    due_complete_at=now + timedelta(days=30)))
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(prepare())
    monkeypatch.setenv("RUTA_REFERRALS_DATABASE_URL", url)
    from ruta.cli import app

    runner = CliRunner()
    assert "mark-overdue" in runner.invoke(app, ["--help"]).output
    first = runner.invoke(app, ["mark-overdue"])
    second = runner.invoke(app, ["mark-overdue"])
    assert first.exit_code == second.exit_code == 0, first.output
    assert first.output.strip().endswith(": 1") and second.output.strip().endswith(": 0")


async def test_the_service_runs_the_job_periodically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only when asked: an app handed its database (tests) leaves it off by default."""
    calls: list[datetime] = []

    async def spy(*, db: Database, **kw: object) -> int:
        calls.append(utcnow())
        return 0

    monkeypatch.setattr("services.referrals.sla.mark_overdue", spy)
    settings = Settings(data_dir=tmp_path)
    quiet: FastAPI = create_app(settings, Database(settings.database_url("referrals")))
    async with quiet.router.lifespan_context(quiet):
        await asyncio.sleep(0.05)
    assert calls == []
    busy: FastAPI = create_app(settings, Database(settings.database_url("referrals")),
                               overdue_interval=0.01)
    async with busy.router.lifespan_context(busy):
        await asyncio.sleep(0.1)
    assert len(calls) >= 2
    count = len(calls)
    await asyncio.sleep(0.05)
    assert len(calls) == count  # stopped with the app
