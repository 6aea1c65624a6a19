"""``ruta text-audit``: the stored rows whose text the API would refuse or fold today.

The rules of shared.text (controls, NUL and unpaired surrogates refused everywhere; identity
fields also refuse bidirectional and zero-width characters and are stored in NFC) and the
look-alike fold of duplicate detection (services/registry/search.py) came after rows were
written. Those rows are not changed behind anyone's back — a name is a legal fact — but
listed, so the organisation that owns each one can check it with the person and rectify it
through the API (which then stores the checked form and a fresh search key).

One line per problem: database, table, row id, field and kind of problem — never the value,
so the listing carries no personal data. Kinds:

* ``control`` — C0/C1 controls or DEL (tab and line breaks are fine outside identity fields);
* ``surrogate`` — an unpaired UTF-16 surrogate;
* ``invisible`` — bidirectional controls or zero-width characters;
* ``not-nfc`` — an identity field not in Unicode NFC;
* ``mixed-script`` — an identity field mixing Latin letters with Cyrillic or Greek letters
  that look Latin (a likely spoof or keyboard-layout slip);
* ``search-key-outdated`` — an active profile whose stored search key is not the one the
  current fold gives (a name with look-alike or invisible characters): duplicate detection
  does not see it until its next rectification;
* ``unreadable`` — a sensitive record this process cannot decrypt (key missing or data
  corrupt), so its text was not checked.

Every text column of every table is read (the registry's sensitive record through its
cipher); nothing is written. Exit 0 whatever is found.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import typer
from sqlalchemy import JSON, MetaData, String, Table, select

from shared.db import Database
from shared.settings import DATABASES, Settings, load_settings_or_exit
from shared.text import CONTROLS, CONTROLS_BUT_LINES, INVISIBLE, SURROGATES

# Fields stored as identity text (shared.text.IdentityText): names, skills, health conditions.
IDENTITY_FIELDS = frozenset({
    ("profiles", "given_names"), ("profiles", "first_surname"),
    ("profiles", "second_surname"), ("profiles", "skills"),
    ("profiles", "sensitive.health_conditions"),
})
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


@dataclass(frozen=True, order=True)
class Finding:
    database: str
    table: str
    row_id: str
    field: str
    kind: str

    def line(self) -> str:
        return "\t".join((self.database, self.table, self.row_id, self.field, self.kind))


def problems(value: str, *, identity: bool) -> list[str]:
    """The kinds of problem of one stored string."""
    from services.registry.search import LOOK_ALIKES

    found = []
    if (CONTROLS if identity else CONTROLS_BUT_LINES).search(value):
        found.append("control")
    if SURROGATES.search(value):
        found.append("surrogate")
    if INVISIBLE.search(value):
        found.append("invisible")
    if identity:
        if not SURROGATES.search(value) and not unicodedata.is_normalized("NFC", value):
            found.append("not-nfc")
        if _LATIN.search(value) and any(c in LOOK_ALIKES for c in value):
            found.append("mixed-script")
    return found


def _strings(value: Any, field: str) -> Iterator[tuple[str, str]]:
    """(field, string) of a column's value, into JSON lists and objects."""
    if isinstance(value, str):
        yield field, value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{field}.{key}")


def _metadata(name: str) -> MetaData:
    if name == "registry":
        from services.registry.models import Base as RegistryBase
        return RegistryBase.metadata
    if name == "referrals":
        from services.referrals.models import Base as ReferralsBase
        return ReferralsBase.metadata
    if name == "credentials":
        from services.credentials.models import Base as CredentialsBase
        return CredentialsBase.metadata
    from gateway.models import Base as GatewayBase
    return GatewayBase.metadata


async def _rows(db: Database, table: Table) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    texts = [c for c in table.columns if isinstance(c.type, String | JSON)
             and not c.primary_key]
    keys = list(table.primary_key.columns)
    extra = [c for c in (table.c.get("sensitive_ciphertext"), table.c.get("sensitive_key_id"))
             if c is not None]
    if not texts or not keys:
        return
    async with db.uow() as uow:
        result = await uow.session.stream(select(*keys, *texts, *extra).order_by(*keys))
        async for row in result:
            data = row._mapping
            row_id = "/".join(str(data[k.name]) for k in keys)
            yield row_id, {c.name: data[c.name] for c in (*texts, *extra)}


async def audit_database(name: str, db: Database, settings: Settings) -> list[Finding]:
    """The findings of one database (the registry's sensitive records decrypted here)."""
    from services.registry import search
    from services.registry.crypto import (
        SensitiveCipher,
        SensitiveDataCorrupt,
        SensitiveKeyUnavailable,
    )

    cipher = SensitiveCipher.from_settings(settings) if name == "registry" else None
    out: list[Finding] = []
    for table in _metadata(name).sorted_tables:
        async for row_id, values in _rows(db, table):
            blob, key_id = values.pop("sensitive_ciphertext", None), values.pop(
                "sensitive_key_id", None)
            if table.name == "profiles":
                values.pop("search_key", None)  # derived: checked below, against the name
            if cipher is not None and blob is not None and key_id is not None:
                try:
                    values["sensitive"] = cipher.decrypt(row_id, key_id, blob)
                except (SensitiveKeyUnavailable, SensitiveDataCorrupt):
                    out.append(Finding(name, table.name, row_id, "sensitive", "unreadable"))
            for column, value in values.items():
                for field, text in _strings(value, column):
                    identity = (table.name, field) in IDENTITY_FIELDS
                    out += [Finding(name, table.name, row_id, field, kind)
                            for kind in problems(text, identity=identity)]
        if table.name == "profiles":
            out += await _outdated_keys(name, db, table, search.normalise)
    return sorted(set(out))


async def _outdated_keys(name: str, db: Database, table: Table, normalise: Any
                         ) -> list[Finding]:
    c = table.c
    found = []
    async with db.uow() as uow:
        result = await uow.session.stream(
            select(c.id, c.given_names, c.first_surname, c.second_surname, c.search_key)
            .where(c.status == "active").order_by(c.id))
        async for r in result:
            if r.search_key != normalise(r.given_names, r.first_surname, r.second_surname):
                found.append(Finding(name, table.name, r.id, "search_key",
                                     "search-key-outdated"))
    return found


async def audit(settings: Settings, databases: dict[str, Database]) -> list[Finding]:
    out: list[Finding] = []
    for name, db in databases.items():
        out += await audit_database(name, db, settings)
    return out


def text_audit(
    database: list[str] = typer.Option(list(DATABASES), "--database", "-d",
                                       help="Which databases (default: all)."),
) -> None:
    """List stored rows with control, invisible, non-NFC or look-alike characters in their
    text (table, id, field, kind; never the value). Changes nothing."""
    unknown = sorted(set(database) - set(DATABASES))
    if unknown:
        typer.echo(f"unknown database: {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    settings = load_settings_or_exit(database)

    async def run() -> list[Finding]:
        dbs = {name: Database(settings.database_url(name)) for name in database}
        try:
            return await audit(settings, dbs)
        finally:
            for db in dbs.values():
                await db.dispose()

    findings = asyncio.run(run())
    typer.echo("database\ttable\tid\tfield\tproblem")
    for f in findings:
        typer.echo(f.line())
    rows = len({(f.database, f.table, f.row_id) for f in findings})
    typer.echo(f"{rows} filas con problemas de texto / rows with text problems", err=True)


COMMANDS = [text_audit]
