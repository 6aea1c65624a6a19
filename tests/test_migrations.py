"""Migrations make the tables (not create_all), reverse cleanly, and agree with the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import MetaData, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.events.models import Base as GatewayBase
from services.credentials.models import Base as CredentialsBase
from services.referrals.models import Base as ReferralsBase
from services.registry.models import Base as RegistryBase
from shared.migrate import downgrade, schema_drift, upgrade
from shared.tables import shared_metadata
from tests.support.databases import TempDatabases

METADATA: dict[str, MetaData] = {
    "gateway": GatewayBase.metadata, "registry": RegistryBase.metadata,
    "referrals": ReferralsBase.metadata, "credentials": CredentialsBase.metadata,
}


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def fresh_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    temp = TempDatabases(Path(tmp_path_factory.mktemp("mig")), "mig")
    urls = await temp.create()
    yield urls  # type: ignore[misc]
    await temp.drop()


@pytest.mark.parametrize("name", list(METADATA))
async def test_upgrade_downgrade_upgrade_and_no_drift(name: str, fresh_urls: dict[str, str]
                                                      ) -> None:
    url = fresh_urls[name]
    expected = set(METADATA[name].tables) | set(shared_metadata.tables)

    await upgrade(name, url)
    assert expected <= await _tables(url)
    await downgrade(name, url, "base")
    assert (await _tables(url)) - {"alembic_version"} == set()
    await upgrade(name, url)
    assert expected <= await _tables(url)

    drift = await schema_drift(url, [METADATA[name], shared_metadata])
    assert drift == [], f"models and migrations of {name} disagree: {drift}"
