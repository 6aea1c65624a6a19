"""The registry's commands of the ``ruta`` CLI (registered by ruta/cli.py from ``COMMANDS``).

* ``ruta seed-synthetic --count N`` — realistic synthetic people for development and
  benchmarks (straight into the registry database, or to a CSV with ``--csv``);
* ``ruta reencrypt-sensitive`` — after adding a key to ``RUTA_DATA_KEYS`` and making it
  ``RUTA_DATA_ACTIVE_KEY``, re-encrypts the sensitive records still under older keys.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from shared.settings import load_settings_or_exit

if TYPE_CHECKING:
    from services.registry.synthetic import SyntheticPeople
    from shared.settings import Settings


def seed_synthetic(
    count: int = typer.Option(1000, "--count", min=1, max=10_000_000),
    seed: int = typer.Option(1, "--seed", help="Same seed, same people."),
    org: str = typer.Option("ong-lima", "--org", help="Owning organisation."),
    csv_path: Path | None = typer.Option(None, "--csv",
                                         help="Write a CSV for import-profiles instead."),
) -> None:
    """Synthetic Venezuelan, Peruvian and Ecuadorian people (development and benchmarks)."""
    from services.registry.synthetic import CSV_COLUMNS, SyntheticPeople, as_csv_row

    people = SyntheticPeople(seed=seed)
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for p in people.people(count):
                writer.writerow(as_csv_row(p))
        typer.echo(f"{count} personas sintéticas → {csv_path}")
        return
    settings = load_settings_or_exit()
    if settings.is_production:
        typer.echo("seed-synthetic is a development command", err=True)
        raise typer.Exit(2)
    inserted = asyncio.run(insert_synthetic(settings, people, count, org))
    typer.echo(f"{inserted} personas sintéticas en {org}")


async def insert_synthetic(settings: Settings, people: SyntheticPeople, count: int, org: str,
                           batch: int = 2000, database: object | None = None) -> int:
    """Straight into the registry database through the repository (no audit, no events:
    synthetic people are nobody). Returns how many were inserted."""
    from services.registry.crypto import SensitiveCipher
    from services.registry.repository import ProfileRepository
    from services.registry.schemas import ProfileCreate
    from services.registry.usecases.registration import prepare
    from shared.clock import utcnow
    from shared.db import Database
    from shared.identity import Identity, Role

    identity = Identity(subject="seed-synthetic", role=Role.CASEWORKER, organisation_id=org)
    cipher = SensitiveCipher.from_settings(settings)
    db = database if isinstance(database, Database) else Database(
        settings.database_url("registry"))
    done = 0
    try:
        for start in range(0, count, batch):
            now = utcnow()
            chunk = [prepare(identity, ProfileCreate.model_validate(p), cipher, now)
                     for p in people.people(min(batch, count - start), start=start)]
            async with db.uow() as uow:
                await ProfileRepository(uow.session).insert_many(
                    [c.profile for c in chunk], [d for c in chunk for d in c.documents], [])
                await uow.commit()
            done += len(chunk)
    finally:
        if db is not database:
            await db.dispose()
    return done


def reencrypt_sensitive(
    batch: int = typer.Option(500, "--batch", min=1, max=10_000),
) -> None:
    """Re-encrypt sensitive records under the active key (after a key rotation)."""
    settings = load_settings_or_exit()
    moved = asyncio.run(reencrypt(settings, batch))
    typer.echo(f"{moved} registros sensibles re-cifrados con {settings.data_active_key}")


async def reencrypt(settings: Settings, batch: int = 500,
                    database: object | None = None) -> int:
    """Moves every sensitive record to the active key, in batches. The profile's version is
    left alone: the person's data did not change, only the key that seals it."""
    from sqlalchemy import select, update

    from services.registry.crypto import SensitiveCipher
    from services.registry.models import profiles_table
    from shared.db import Database

    p = profiles_table.c
    cipher = SensitiveCipher.from_settings(settings)
    db = database if isinstance(database, Database) else Database(
        settings.database_url("registry"))
    moved = 0
    try:
        while True:
            async with db.uow() as uow:
                rows = (await uow.session.execute(
                    select(p.id, p.sensitive_key_id, p.sensitive_ciphertext)
                    .where(p.sensitive_key_id.is_not(None),
                           p.sensitive_key_id != cipher.active_key_id)
                    .limit(batch))).all()
                if not rows:
                    break
                for r in rows:
                    data = cipher.decrypt(r.id, r.sensitive_key_id, r.sensitive_ciphertext)
                    key_id, blob = cipher.encrypt(r.id, data)
                    await uow.session.execute(
                        update(profiles_table)
                        .where(p.id == r.id, p.sensitive_key_id == r.sensitive_key_id)
                        .values(sensitive_key_id=key_id, sensitive_ciphertext=blob))
                await uow.commit()
                moved += len(rows)
    finally:
        if db is not database:
            await db.dispose()
    return moved


COMMANDS = [seed_synthetic, reencrypt_sensitive]
