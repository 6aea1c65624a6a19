"""``ruta text-audit`` (issue 16, item 2): rows stored before the text rules — written
straight into the databases here, bypassing the API — are listed by table, id, field and kind
of problem, never with their value, the sensitive record read through the registry's cipher;
nothing is changed. Both databases."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update
from typer.testing import CliRunner

from gateway.identity.models import Organisation
from ruta.cli import app as cli
from ruta.text_audit import Finding, audit
from services.registry.crypto import SensitiveCipher
from services.registry.models import profiles_table
from shared.db import Database
from shared.settings import Settings
from tests.support.registry import SENSITIVE, WRITTEN_SENSITIVE_CONSENT, create
from tests.support.tokens import TokenFactory

P = profiles_table.c


async def _set(db: Database, table: Any, row_id: str, **values: Any) -> None:
    async with db.uow() as uow:
        await uow.session.execute(update(table).where(table.c.id == row_id).values(**values))
        await uow.commit()


async def test_stored_hostile_text_is_listed_without_values_and_left_alone(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database],
    settings: Settings,
) -> None:
    clean = await create(client, auth(), given_names="Ana", first_surname="Pérez",
                         birth_date="1991-03-25")
    spoofed = await create(client, auth(), given_names="Ana", first_surname="Pérez",
                           birth_date="1991-03-25")
    hidden = await create(client, auth(permissions=["sensitive:read"]),
                          consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE)
    org = await client.post("/v1/organisations", headers=auth("admin", org=None, regions=[]),
                            json={"id": "ong-auditada", "name": "Red Solidaria", "kind": "ngo",
                                  "country": "PE", "regions": ["PE-LMA"]})
    assert org.status_code == 201, org.text
    # as rows written before the rules: straight into the tables
    await _set(dbs["registry"], profiles_table, spoofed["id"],
               given_names="\u0410na",            # Cyrillic А among Latin letters
               first_surname="Pe\u0301rez",       # e + combining accent: not NFC
               second_surname="Gómez\u200b",      # zero-width space
               skills=["Cocina\x07"],             # a bell
               search_key="na perez gomez")       # the key the old fold gave
    key_id, blob = SensitiveCipher.from_settings(settings).encrypt(hidden["id"], {
        **SENSITIVE, "notes": "Derivar\x1b con acompañamiento\n",
        "health_conditions": ["diabetes\u202e"]})
    await _set(dbs["registry"], profiles_table, hidden["id"], sensitive_key_id=key_id,
               sensitive_ciphertext=blob)
    await _set(dbs["gateway"], Organisation.__table__, "ong-auditada", name="Red\x1bSolidaria")

    findings = await audit(settings, dbs)

    mine = {f for f in findings if f.row_id in (clean["id"], spoofed["id"], hidden["id"],
                                                "ong-auditada")}
    assert mine == {
        Finding("registry", "profiles", spoofed["id"], "given_names", "mixed-script"),
        Finding("registry", "profiles", spoofed["id"], "first_surname", "not-nfc"),
        Finding("registry", "profiles", spoofed["id"], "second_surname", "invisible"),
        Finding("registry", "profiles", spoofed["id"], "skills", "control"),
        Finding("registry", "profiles", spoofed["id"], "search_key", "search-key-outdated"),
        Finding("registry", "profiles", hidden["id"], "sensitive.notes", "control"),
        Finding("registry", "profiles", hidden["id"], "sensitive.health_conditions",
                "invisible"),
        Finding("gateway", "organisations", "ong-auditada", "name", "control"),
    }
    listing = "\n".join(f.line() for f in findings)
    for value in ("Ana", "Pérez", "Gómez", "Cocina", "Derivar", "diabetes", "Red"):
        assert value not in listing  # never a value: no personal data in the output
    async with dbs["registry"].uow() as uow:
        row = (await uow.session.execute(select(P.given_names, P.search_key).where(
            P.id == spoofed["id"]))).one()
    assert tuple(row) == ("\u0410na", "na perez gomez")  # listed, not changed


async def test_a_sensitive_record_it_cannot_decrypt_is_listed_as_unreadable(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database],
    settings: Settings,
) -> None:
    hidden = await create(client, auth(permissions=["sensitive:read"]),
                          consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE)
    await _set(dbs["registry"], profiles_table, hidden["id"], sensitive_key_id="retired")
    findings = await audit(settings, {"registry": dbs["registry"]})
    assert Finding("registry", "profiles", hidden["id"], "sensitive",
                   "unreadable") in findings


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(cli, ["text-audit", "--help"])
    assert result.exit_code == 0
    assert "Changes nothing" in result.output
