"""Synthetic profiles loaded straight into a fresh registry database by COPY (bench/smoke.py,
bench/load.py): one organisation, one region, Venezuelan names."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from typing import Any

from kit import app
from kit.databases import asyncpg_dsn, database_names, drop_databases
from kit.processes import BenchError

ORG, REGION = "ong-lima", "PE-LMA"
GIVEN = ["María José", "José Gregorio", "Yuleisy", "Andrés Eloy", "Daniela", "Luis"]
SURNAMES = ["Pérez", "Hernández", "Briceño", "Peña", "Rodríguez", "Márquez"]


def neutral_value(data_type: str, now: dt.datetime) -> Any:
    """A neutral value for a NOT NULL column this script does not know (the schema grows)."""
    if data_type in ("integer", "bigint", "smallint", "numeric", "double precision", "real"):
        return 0
    if data_type == "boolean":
        return False
    if data_type == "date":
        return now.date()
    if data_type.startswith("timestamp"):
        return now
    if data_type in ("json", "jsonb"):
        return "{}"
    if data_type == "uuid":
        return uuid.uuid4()
    return ""


def profile_row(pid: str, rng: random.Random, now: dt.datetime) -> dict[str, Any]:
    names = (rng.choice(GIVEN), rng.choice(SURNAMES), rng.choice(SURNAMES))
    return {
        "id": pid, "organisation_id": ORG, "given_names": names[0],
        "first_surname": names[1], "second_surname": names[2],
        "birth_date": dt.date(1960 + rng.randrange(45), 1 + rng.randrange(12),
                              1 + rng.randrange(28)),
        "sex": rng.choice(["female", "male"]), "nationality": "VEN",
        "population_type": rng.choice(["migrant", "refugee"]), "country": "PE",
        "region": REGION, "status": "active", "created_by": "bench",
        "created_at": now, "updated_at": now, "version": 1,
        "search_key": " ".join(names).lower(),
    }


async def create_with_profiles(pg_url: str, urls: dict[str, str], n_profiles: int
                               ) -> list[str]:
    """Create + migrate the databases, COPY synthetic profiles; returns their ids.

    The columns come from the migrated table itself: the ones a profile read needs get
    realistic values, any other NOT NULL column without a default a neutral one.
    """
    import asyncpg

    await drop_databases(pg_url, database_names(urls))
    await asyncio.wait_for(app.prepare_databases(urls), timeout=180)
    rng = random.Random(1)
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(asyncpg_dsn(urls["registry"]))
    try:
        table = await conn.fetch(
            "SELECT column_name, is_nullable, column_default, data_type"
            " FROM information_schema.columns WHERE table_name = 'profiles'"
            " AND table_schema = current_schema() ORDER BY ordinal_position")
        if not table:
            raise BenchError("the registry database has no profiles table after migrating")
        sample = profile_row("x", rng, now)
        columns = [c["column_name"] for c in table if c["column_name"] in sample or (
            c["is_nullable"] == "NO" and c["column_default"] is None)]
        fill = {c["column_name"]: neutral_value(c["data_type"], now) for c in table
                if c["column_name"] not in sample}
        ids = [str(uuid.uuid4()) for _ in range(n_profiles)]
        records = []
        for pid in ids:
            values = {**fill, **profile_row(pid, rng, now)}
            records.append(tuple(values[c] for c in columns))
        await conn.copy_records_to_table("profiles", records=records, columns=columns)
        await conn.execute("ANALYZE profiles")
    finally:
        await conn.close()
    return ids
