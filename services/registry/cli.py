"""The registry's commands of the ``ruta`` CLI (registered by ruta/cli.py from ``COMMANDS``).

* ``ruta seed-synthetic --count N`` — realistic synthetic people for development and
  benchmarks (through the registry's bulk use case, so with their events; idempotent for a
  seed), or to a CSV with ``--csv``;
* ``ruta reencrypt-sensitive`` — after adding a key to ``RUTA_DATA_KEYS`` and making it
  ``RUTA_DATA_ACTIVE_KEY``, re-encrypts the sensitive records still under older keys.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from shared.logging import exception_summary
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
    """Synthetic Venezuelan, Peruvian and Ecuadorian people (development and benchmarks).
    Registered as the bulk import registers people (so reports see them); the same seed
    twice creates nobody new."""
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
    try:
        with typer.progressbar(length=count, label="personas sintéticas",
                               file=sys.stderr) as bar:
            seeded = asyncio.run(insert_synthetic(settings, people, count, org,
                                                  on_batch=bar.update))
    except Exception as exc:
        # Python's traceback would print the driver's text and the batch's values (document
        # numbers): one line with the error's classes and SQLSTATE, never its message.
        typer.echo(f"seed-synthetic falló / failed: {exception_summary(exc)}", err=True)
        raise typer.Exit(1) from None
    message = f"{seeded.created} personas sintéticas nuevas en {org}"
    if seeded.existing:
        message += (f"; {seeded.existing} ya estaban (semilla {seed}: nada que repetir) / "
                    f"already there")
    typer.echo(message)


@dataclass(frozen=True)
class Seeded:
    created: int
    existing: int  # already registered: an earlier run with the same seed


async def insert_synthetic(settings: Settings, people: SyntheticPeople, count: int, org: str,
                           batch: int = 1000, database: object | None = None,
                           on_batch: Callable[[int], None] | None = None) -> Seeded:
    """Through the registry's bulk use case, as an NGO's batch: each person gets their audit
    row and ``profile.created`` event (the reports' projection is fed by it), and a person
    whose documents are already registered (same seed) is a duplicate, not an error."""
    from services.registry.crypto import SensitiveCipher
    from services.registry.usecases.bulk import bulk_create
    from shared.db import Database
    from shared.identity import Identity, Role
    from shared.peers import Peers

    identity = Identity(subject="seed-synthetic", role=Role.CASEWORKER, organisation_id=org)
    cipher = SensitiveCipher.from_settings(settings)
    db = database if isinstance(database, Database) else Database(
        settings.database_url("registry"))
    created = existing = 0
    try:
        for start in range(0, count, batch):
            items = list(people.people(min(batch, count - start), start=start))
            # the peers are never asked: no synthetic consent names a programme
            stored = await bulk_create(db=db, peers=Peers(settings), identity=identity,
                                       items=items, cipher=cipher)
            answer = json.loads(stored.body)
            if answer["invalid"]:  # the generator's own bug: never half-seed silently
                raise RuntimeError(f"{answer['invalid']} synthetic people refused")
            created += answer["created"]
            existing += answer["duplicates"]
            if on_batch:
                on_batch(len(items))
    finally:
        if db is not database:
            await db.dispose()
    return Seeded(created, existing)


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


def watch_documents() -> None:
    """Announce work-authorising documents that reached an expiry horizon or lapsed
    (``document.expiring`` / ``document.expired``, once per document and horizon) and put
    them on the worklist. Safe to run from several places at once; the registry also runs it
    every RUTA_DOCUMENT_WATCH_INTERVAL_SECONDS."""
    from services.registry.watch import WatchConfig
    from services.registry.watch import watch_documents as run
    from shared.db import Database

    settings = load_settings_or_exit()

    async def go() -> tuple[int, int, int]:
        db = Database(settings.database_url("registry"))
        try:
            out = await run(db=db, config=WatchConfig.from_settings(settings))
            return out.expiring, out.expired, out.consents
        finally:
            await db.dispose()

    expiring, expired, consents = asyncio.run(go())
    typer.echo(f"documents expiring: {expiring}; expired: {expired}; "
               f"consents expiring: {consents}")


COMMANDS = [seed_synthetic, reencrypt_sensitive, watch_documents]
