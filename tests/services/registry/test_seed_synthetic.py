"""``ruta seed-synthetic`` (issue 16, item 11): people written through the registry's use
case, so their events reach the reports; a second run with the same seed creates nobody and
says so; progress on stderr."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from services.referrals.models import ReportPerson
from services.registry.cli import insert_synthetic
from services.registry.models import Profile
from services.registry.synthetic import SyntheticPeople
from shared.db import Database
from shared.settings import Settings

ORG = "ong-sintetica"


async def _count(db: Database, table: type[Profile] | type[ReportPerson]) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(table).where(
            table.organisation_id == ORG)) or 0)


async def test_seeded_people_reach_the_reports_and_a_second_run_adds_nobody(
    app: FastAPI, dbs: dict[str, Database]
) -> None:
    first = await insert_synthetic(Settings(), SyntheticPeople(seed=8), 120, ORG, batch=50,
                                   database=dbs["registry"])
    assert (first.created, first.existing) == (120, 0)
    again = await insert_synthetic(Settings(), SyntheticPeople(seed=8), 120, ORG, batch=50,
                                   database=dbs["registry"])
    assert (again.created, again.existing) == (0, 120)
    assert await _count(dbs["registry"], Profile) == 120

    while await app.state.hub.run_once():  # the event relay, as the server runs it
        pass
    assert await _count(dbs["referrals"], ReportPerson) == 120


def test_the_command_says_when_the_seed_was_already_there(tmp_path: Path) -> None:
    from ruta.cli import app

    env = {"RUTA_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(app, ["migrate", "-d", "registry"], env=env).exit_code == 0
    command = ["seed-synthetic", "--count", "30", "--seed", "3", "--org", ORG]
    first = runner.invoke(app, command, env=env)
    assert first.exit_code == 0, first.output
    assert "30 personas sintéticas nuevas" in first.stdout
    assert "sintéticas" in first.stderr  # the progress bar, on stderr
    second = runner.invoke(app, command, env=env)
    assert second.exit_code == 0, second.output
    assert "0 personas sintéticas nuevas" in second.stdout
    assert "30 ya estaban" in second.stdout
