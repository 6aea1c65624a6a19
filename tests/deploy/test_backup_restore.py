"""The operator guide's backup and restore drill (issue 17, item 6), with the local
PostgreSQL's own tools: `pg_dump` of every database, the databases dropped, `pg_restore`d,
and a sealed sensitive field read back through the API with the same data keys."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from ruta.distributed import prepare_databases
from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.deploy.conftest import ON_POSTGRES
from tests.support.contract import contract_client
from tests.support.registry import SENSITIVE, WRITTEN_SENSITIVE_CONSENT
from tests.support.tokens import make_token_factory

pytestmark = [pytest.mark.slow, ON_POSTGRES]
KEYS = '{"k1": "' + "QUJD" * 10 + "QUI=" + '"}'  # the data keys kept beside the dumps


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sh(*args: str) -> None:
    run = subprocess.run(args, capture_output=True, text=True, check=False)
    assert run.returncode == 0, f"{args[0]}: {run.stderr}"


@asynccontextmanager
async def gateway(urls: dict[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    settings = Settings(data_keys=KEYS, data_active_key="k1", background_tasks=False)
    dbs = {name: Database(url) for name, url in urls.items()}
    app = create_embedded_app(settings, dbs)
    try:
        async with app.router.lifespan_context(app), contract_client(app) as c:
            auth = make_token_factory(app.state.keys)
            yield c, auth(permissions=["sensitive:read"])
    finally:
        for db in dbs.values():
            await db.dispose()


async def test_dump_drop_restore_and_read_the_sealed_field_back(
        tmp_path: Path, fresh_databases: dict[str, str]) -> None:
    await prepare_databases(fresh_databases)
    async with gateway(fresh_databases) as (c, permitted):
        made = await c.post("/v1/profiles", headers=permitted, json={
            "given_names": "Ana", "first_surname": "Rivas", "birth_date": "1990-04-12",
            "sex": "female", "nationality": "VEN", "population_type": "migrant",
            "region": "PE-LMA", "consents": [WRITTEN_SENSITIVE_CONSENT],
            "sensitive": SENSITIVE})
        assert made.status_code == 201, made.text
        pid = made.json()["id"]

    # the drill: one dump per database (custom format), then the databases are lost
    for name, url in fresh_databases.items():
        sh("pg_dump", "--format=custom", "--no-owner", f"--file={tmp_path / name}.dump",
           f"--dbname={libpq(url)}")
        sh("dropdb", "--force", f"--maintenance-db={libpq(url).rsplit('/', 1)[0]}/postgres",
           make_url(url).database or "")
    assert SENSITIVE["notes"].encode() not in (tmp_path / "registry.dump").read_bytes()
    for name, url in fresh_databases.items():
        sh("createdb", f"--maintenance-db={libpq(url).rsplit('/', 1)[0]}/postgres",
           make_url(url).database or "")
        sh("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(url)}",
           f"{tmp_path / name}.dump")

    async with gateway(fresh_databases) as (c, permitted):
        read = await c.get(f"/v1/profiles/{pid}", headers=permitted)
        assert read.status_code == 200, read.text
        assert read.json()["sensitive"]["notes"] == SENSITIVE["notes"]
