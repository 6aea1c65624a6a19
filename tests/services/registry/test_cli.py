"""The registry's commands: spreadsheet import (resumable, per-row results), synthetic seed,
re-encryption after a key rotation."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from services.registry.cli import insert_synthetic, reencrypt
from services.registry.crypto import SensitiveCipher
from services.registry.importer import ImportAborted, row_to_payload, run_import
from services.registry.models import Profile
from services.registry.synthetic import CSV_COLUMNS, SyntheticPeople, as_csv_row
from shared.db import Database
from shared.settings import Settings
from tests.support.registry import SENSITIVE, WRITTEN_SENSITIVE_CONSENT, create
from tests.support.tokens import TokenFactory

ORG = "ong-csv"


async def _count(db: Database) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Profile).where(
            Profile.organisation_id == ORG)) or 0)


def _spreadsheet(path: Path, n: int) -> list[dict[str, str]]:
    rows = []
    for p in SyntheticPeople(seed=5).people(n * 6):
        if p["region"] in ("PE-LMA", "PE-CAL") and len(rows) < n:
            rows.append(as_csv_row(p))
    assert len(rows) == n
    if n > 33:
        rows[7]["birth_date"] = "31/02/1990"       # invalid date
        rows[20]["document_number"] = rows[19]["document_number"]  # repeated in the sheet
        rows[20]["document_type"] = rows[19]["document_type"]
        rows[33]["region"] = "Caracas"             # no region of Peru or Ecuador
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


class LosesAnAnswer:
    """A network that delivers the third batch to the server and then drops the answer."""

    def __init__(self, client: httpx.AsyncClient, fail_on: int) -> None:
        self.client = client
        self.calls = 0
        self.fail_on = fail_on

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        self.calls += 1
        resp = await self.client.post(url, **kw)
        if self.calls == self.fail_on:
            raise httpx.ReadTimeout("answer lost")
        return resp


async def test_import_resumes_without_duplicating_and_reports_each_row(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database], tmp_path: Path
) -> None:
    sheet = tmp_path / "lista.csv"
    rows = _spreadsheet(sheet, 120)
    results = tmp_path / "lista.results.csv"
    state = tmp_path / "lista.results.csv.state.json"
    token = auth("ngo_partner", org=ORG)["Authorization"].split()[1]

    async def no_wait(_: float) -> None:
        return None

    flaky = LosesAnAnswer(client, fail_on=3)
    with pytest.raises(httpx.ReadTimeout):
        await run_import(sheet, flaky, token=token, results=results,  # type: ignore[arg-type]
                         state_path=state, batch_size=25, retries=0, sleep=no_wait)
    assert len(json.loads(state.read_text())["batches"]) == 2
    # three batches reached the server (75 rows, 3 of them refused)
    assert await _count(dbs["registry"]) == 72

    summary = await run_import(sheet, client, token=token, results=results, state_path=state,
                               batch_size=25, sleep=no_wait)
    assert (summary.batches_skipped, summary.batches_sent) == (2, 3)
    assert (summary.rows, summary.created, summary.duplicate, summary.invalid) == (
        120, 117, 1, 2)
    assert await _count(dbs["registry"]) == 117  # the replayed batch created nobody twice

    with results.open(encoding="utf-8") as fh:
        out = list(csv.DictReader(fh))
    assert [int(r["row"]) for r in out] == list(range(2, 122))
    by_row = {int(r["row"]): r for r in out}
    assert by_row[9]["status"] == "invalid" and by_row[9]["errors"].startswith("birth_date")
    assert by_row[35]["status"] == "invalid" and "region" in by_row[35]["errors"]
    assert by_row[22]["status"] == "duplicate" and by_row[22]["duplicate_of_row"] == "21"
    assert all(r["profile_id"] for r in out if r["status"] == "created")

    # running it again changes nothing; a changed file is refused
    again = await run_import(sheet, client, token=token, results=results, state_path=state,
                             batch_size=25, sleep=no_wait)
    assert (again.batches_sent, again.created) == (0, 117)
    sheet.write_text(sheet.read_text(encoding="utf-8") + "\n" + ",".join(rows[0].values()),
                     encoding="utf-8")
    with pytest.raises(ImportAborted):
        await run_import(sheet, client, token=token, results=results, state_path=state,
                         batch_size=25, sleep=no_wait)


async def test_import_stops_on_answers_a_retry_cannot_fix(
    client: httpx.AsyncClient, auth: TokenFactory, tmp_path: Path
) -> None:
    sheet = tmp_path / "l.csv"
    _spreadsheet(sheet, 5)
    with pytest.raises(ImportAborted, match="HTTP 401"):
        await run_import(sheet, client, token="not-a-token", results=tmp_path / "r.csv",
                         state_path=tmp_path / "s.json")
    admin = auth("admin", org=None, regions=[])["Authorization"].split()[1]
    with pytest.raises(ImportAborted, match="HTTP 403"):
        await run_import(sheet, client, token=admin, results=tmp_path / "r.csv",
                         state_path=tmp_path / "s.json")


def test_spanish_spreadsheets_are_understood() -> None:
    body = row_to_payload({
        "Nombres": "María José", "Primer apellido": "Pérez", "Segundo apellido": "",
        "Fecha de nacimiento": "14/03/1988", "Sexo": "F", "Nacionalidad": "Venezolana",
        "Tipo de población": "Refugiada", "Región": "PE-LMA", "Teléfono": "987654321",
        "Tipo de documento": "Cédula", "Número de documento": "V-12.345.678",
        "Idiomas": "es; en"})
    assert body == {
        "given_names": "María José", "first_surname": "Pérez", "birth_date": "1988-03-14",
        "sex": "female", "nationality": "VEN", "population_type": "refugee",
        "region": "PE-LMA", "phone": "987654321", "languages": ["es", "en"],
        "documents": [{"type": "ve_cedula", "number": "V-12.345.678"}]}


def test_seed_synthetic_writes_a_csv_for_the_import(tmp_path: Path) -> None:
    from ruta.cli import app

    out = tmp_path / "people.csv"
    result = CliRunner().invoke(app, ["seed-synthetic", "--count", "30", "--seed", "4",
                                      "--csv", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30 and all(row_to_payload(r)["given_names"] for r in rows)


async def test_seed_synthetic_into_the_database(dbs: dict[str, Database]) -> None:
    n = await insert_synthetic(Settings(), SyntheticPeople(seed=8), 250, ORG, batch=100,
                               database=dbs["registry"])
    assert n.created == 250
    assert await _count(dbs["registry"]) == 250


async def test_reencrypt_after_key_rotation(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth(permissions=["sensitive:read"]),
                     consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE)
    new_key = base64.b64encode(b"k" * 32).decode()
    rotated = Settings(data_keys=json.dumps({
        "dev-1": "ZGV2LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24tMDAwMDA=", "k2": new_key}),
        data_active_key="k2")
    assert await reencrypt(rotated, batch=10, database=dbs["registry"]) >= 1
    async with dbs["registry"].uow() as uow:
        row = (await uow.session.execute(text(
            "SELECT sensitive_key_id, sensitive_ciphertext, version FROM profiles "
            "WHERE id = :id"), {"id": p["id"]})).one()
    assert row.sensitive_key_id == "k2" and row.version == 1
    data = SensitiveCipher.from_settings(rotated).decrypt(p["id"], "k2",
                                                           row.sensitive_ciphertext)
    assert data["notes"] == SENSITIVE["notes"]
    assert await reencrypt(rotated, batch=10, database=dbs["registry"]) == 0
