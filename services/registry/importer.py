"""Spreadsheet import for NGOs: CSV rows → ``POST /v1/profiles/bulk`` in batches.

Resumable without duplicating anyone: each batch's ``Idempotency-Key`` is derived from the
file's content and the batch number, and a state file next to the results records every
batch answered. Rerunning after an interruption skips the answered batches and resends the
others with the same keys (the server replays a batch it had already committed). A changed
file is refused, so a key never covers two different batches.

Spanish headers and values as NGOs write them are understood (``nombres``, ``primer
apellido``, ``fecha de nacimiento`` 31/12/1990, ``sexo`` F/M, ``tipo de documento`` CPP...).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from services.registry.search import fold

HEADERS = {
    "given_names": "given_names", "nombres": "given_names", "nombre": "given_names",
    "first_surname": "first_surname", "primer_apellido": "first_surname",
    "apellido_paterno": "first_surname", "apellido": "first_surname",
    "second_surname": "second_surname", "segundo_apellido": "second_surname",
    "apellido_materno": "second_surname",
    "birth_date": "birth_date", "fecha_de_nacimiento": "birth_date",
    "fecha_nacimiento": "birth_date",
    "sex": "sex", "sexo": "sex",
    "gender_identity": "gender_identity",
    "nationality": "nationality", "nacionalidad": "nationality",
    "population_type": "population_type", "tipo_de_poblacion": "population_type",
    "tipo_poblacion": "population_type", "condicion": "population_type",
    "region": "region", "district": "district", "distrito": "district", "ubigeo": "district",
    "canton": "district",
    "phone": "phone", "telefono": "phone", "celular": "phone",
    "email": "email", "correo": "email", "correo_electronico": "email",
    "languages": "languages", "idiomas": "languages",
    "skills": "skills", "habilidades": "skills",
    "education_level": "education_level", "nivel_educativo": "education_level",
    "occupation_desired": "occupation_desired",
    "document_type": "document_type", "tipo_de_documento": "document_type",
    "tipo_documento": "document_type",
    "document_number": "document_number", "numero_de_documento": "document_number",
    "numero_documento": "document_number", "documento": "document_number",
    "document_expiry": "document_expiry", "vencimiento_documento": "document_expiry",
    "fecha_de_vencimiento": "document_expiry",
    "document_issuing_country": "document_issuing_country",
    "pais_del_documento": "document_issuing_country",
}
SEX = {"f": "female", "femenino": "female", "mujer": "female", "female": "female",
       "m": "male", "masculino": "male", "hombre": "male", "male": "male",
       "intersex": "intersex", "intersexual": "intersex"}
NATIONALITY = {"ve": "VEN", "venezuela": "VEN", "venezolana": "VEN", "venezolano": "VEN",
               "pe": "PER", "peru": "PER", "peruana": "PER", "peruano": "PER",
               "ec": "ECU", "ecuador": "ECU", "ecuatoriana": "ECU", "ecuatoriano": "ECU",
               "co": "COL", "colombia": "COL", "colombiana": "COL", "colombiano": "COL"}
POPULATION = {"migrante": "migrant", "refugiado": "refugee", "refugiada": "refugee",
              "solicitante de refugio": "asylum_seeker", "solicitante de asilo":
              "asylum_seeker", "comunidad de acogida": "host_community",
              "comunidad receptora": "host_community", "retornado": "returnee",
              "retornada": "returnee"}
DOCUMENTS = {"dni": "pe_dni", "cpp": "pe_cpp", "ptp": "pe_ptp", "ce": "pe_carne_extranjeria",
             "carne de extranjeria": "pe_carne_extranjeria",
             "carne de solicitante de refugio": "pe_carne_solicitante_refugio",
             "solicitante de refugio": "pe_carne_solicitante_refugio",
             "virte": "ec_visa_virte", "visa virte": "ec_visa_virte",
             "cedula venezolana": "ve_cedula", "cedula ecuatoriana": "ec_cedula",
             "pasaporte venezolano": "ve_passport"}
_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}


class ImportAborted(RuntimeError):
    """The server refused the batch for a reason a retry cannot fix (401, 403, 422...)."""


def _key(header: str) -> str:
    return fold(header).replace(" ", "_")


def _date(value: str) -> str:
    m = _DATE.match(value)
    if m:  # day first, as written in Peru and Ecuador
        day, month, year = (int(g) for g in m.groups())
        try:
            return datetime(year, month, day).date().isoformat()
        except ValueError:
            return value
    return value


def row_to_payload(row: dict[str, str]) -> dict[str, Any]:
    """One spreadsheet row as a ProfileCreate body (the server validates it)."""
    cells = {HEADERS.get(_key(k), ""): (v or "").strip() for k, v in row.items() if k}
    cells.pop("", None)
    body: dict[str, Any] = {}
    for name in ("given_names", "first_surname", "second_surname", "region", "district",
                 "phone", "email", "gender_identity", "occupation_desired"):
        if cells.get(name):
            body[name] = cells[name]
    if cells.get("birth_date"):
        body["birth_date"] = _date(cells["birth_date"])
    if cells.get("sex"):
        body["sex"] = SEX.get(fold(cells["sex"]), cells["sex"])
    if cells.get("nationality"):
        nat = cells["nationality"]
        body["nationality"] = NATIONALITY.get(fold(nat), nat.upper())
    if cells.get("population_type"):
        pop = cells["population_type"]
        body["population_type"] = POPULATION.get(fold(pop), pop)
    if cells.get("education_level"):
        level = cells["education_level"]
        body["education_level"] = int(level) if level.isdigit() else level
    for name in ("languages", "skills"):
        if cells.get(name):
            body[name] = [v.strip() for v in re.split(r"[;|]", cells[name]) if v.strip()]
    if cells.get("document_number"):
        kind = cells.get("document_type", "")
        doc_type = DOCUMENTS.get(fold(kind), kind)
        if fold(kind) in ("cedula", "ci"):
            doc_type = "ve_cedula" if body.get("nationality") == "VEN" else "ec_cedula"
        elif fold(kind) == "pasaporte":
            doc_type = "ve_passport" if body.get("nationality") == "VEN" else "passport"
        doc: dict[str, Any] = {"type": doc_type, "number": cells["document_number"]}
        if cells.get("document_expiry"):
            doc["expiry_date"] = _date(cells["document_expiry"])
        if cells.get("document_issuing_country"):
            doc["issuing_country"] = cells["document_issuing_country"].upper()
        elif doc_type == "passport" and body.get("nationality"):
            doc["issuing_country"] = body["nationality"]
        body["documents"] = [doc]
    return body


def read_rows(path: Path) -> tuple[list[tuple[int, dict[str, str]]], str]:
    """The data rows with their line numbers, and the file's SHA-256. UTF-8 (with or without
    BOM) or Windows-1252, as spreadsheet programs write them; comma or semicolon."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = raw.decode("cp1252")
    sample = content[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    rows = [(reader.line_num, dict(r)) for r in reader if any((v or "").strip()
                                                           for v in r.values())]
    return rows, digest


@dataclass
class ImportState:
    file_sha256: str
    batch_size: int
    batches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ImportState | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["file_sha256"], int(data["batch_size"]), data.get("batches", {}))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps({"file_sha256": self.file_sha256,
                                   "batch_size": self.batch_size,
                                   "batches": self.batches}), encoding="utf-8")
        os.replace(tmp, path)  # atomic: an interruption never leaves half a state


@dataclass
class ImportSummary:
    rows: int
    created: int
    duplicate: int
    invalid: int
    batches_sent: int
    batches_skipped: int


def batch_key(file_sha256: str, batch_size: int, number: int) -> str:
    return f"import-{file_sha256[:32]}-{batch_size}-{number:06d}"


RESULT_COLUMNS = ["row", "status", "profile_id", "existing_profile_id", "duplicate_of_row",
                  "errors"]


def write_results(path: Path, rows: list[tuple[int, dict[str, str]]], state: ImportState
                  ) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        for n in sorted(state.batches, key=int):
            start = int(n) * state.batch_size
            for r in state.batches[n]:
                line = rows[start + r["index"]][0]
                dup_of = r.get("duplicate_of_index")
                writer.writerow({
                    "row": line, "status": r["status"], "profile_id": r.get("id") or "",
                    "existing_profile_id": r.get("existing_profile_id") or "",
                    "duplicate_of_row": rows[start + dup_of][0] if dup_of is not None else "",
                    "errors": "; ".join(f"{e['field']}: {e['message']}"
                                        for e in r.get("errors") or []),
                })
    os.replace(tmp, path)


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any],
                headers: dict[str, str], retries: int,
                sleep: Callable[[float], Awaitable[None]]) -> dict[str, Any]:
    delay = 1.0
    for attempt in range(retries + 1):
        try:
            resp = await client.post(url, json=body, headers=headers)
        except httpx.TransportError:
            if attempt == retries:
                raise
        else:
            if resp.status_code == 200:
                out: dict[str, Any] = resp.json()
                return out
            if resp.status_code not in RETRY_STATUSES or attempt == retries:
                detail = resp.text[:500]
                raise ImportAborted(f"HTTP {resp.status_code}: {detail}")
            retry_after = resp.headers.get("retry-after", "")
            if retry_after.isdigit():
                delay = max(delay, float(retry_after))
        await sleep(delay)
        delay = min(delay * 2, 30.0)
    raise ImportAborted("unreachable")  # pragma: no cover


async def run_import(
    file: Path, client: httpx.AsyncClient, *, token: str, results: Path, state_path: Path,
    batch_size: int = 500, retries: int = 5,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    language: str = "es",
) -> ImportSummary:
    rows, digest = read_rows(file)
    state = ImportState.load(state_path)
    if state is not None and (state.file_sha256 != digest or state.batch_size != batch_size):
        raise ImportAborted(
            "the file or the batch size changed since the interrupted import; finish it with "
            "the same file and batch size, or remove the state file to start again")
    state = state or ImportState(digest, batch_size)
    sent = skipped = 0
    for number, start in enumerate(range(0, len(rows), batch_size)):
        chunk = rows[start:start + batch_size]
        if str(number) in state.batches:
            skipped += 1
            if on_batch:
                on_batch(len(chunk))
            continue
        headers = {"Authorization": f"Bearer {token}",
                   "Idempotency-Key": batch_key(digest, batch_size, number),
                   "Accept-Language": language}
        body = {"items": [row_to_payload(r) for _, r in chunk]}
        answer = await _post(client, "/v1/profiles/bulk", body, headers, retries, sleep)
        state.batches[str(number)] = answer["results"]
        state.save(state_path)
        write_results(results, rows, state)
        sent += 1
        if on_batch:
            on_batch(len(chunk))
    write_results(results, rows, state)
    all_results: Iterable[dict[str, Any]] = (r for b in state.batches.values() for r in b)
    counts = {"created": 0, "duplicate": 0, "invalid": 0}
    for r in all_results:
        counts[r["status"]] += 1
    return ImportSummary(len(rows), counts["created"], counts["duplicate"], counts["invalid"],
                         sent, skipped)
