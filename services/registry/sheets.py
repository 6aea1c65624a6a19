"""NGO spreadsheets as ``ruta import-profiles`` reads them: CSV or ``.xlsx``, Spanish headers,
dates as the sheet writes them, region names. See docs/import-profiles.md.

Everything that can be judged without the server is judged here, before anything is sent:
the file's format and its headers (unknown and missing columns are listed and the import
refused), then each row's dates and region (a row that fails is reported in the results
file in the sheet's own terms, e.g. ``dd/mm/aaaa``, and never sent).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.registry.search import fold
from shared.i18n import Text
from shared.regions import RegionNameError, region_code

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
    "region": "region", "departamento": "region",
    "district": "district", "distrito": "district", "ubigeo": "district", "canton": "district",
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
# The columns every person needs (ProfileCreate's required fields), as the sheet names them.
REQUIRED = {"given_names": "nombres", "first_surname": "primer apellido",
            "birth_date": "fecha de nacimiento", "sex": "sexo", "nationality": "nacionalidad",
            "population_type": "tipo de población", "region": "región"}
REQUIRED_EN = {"nombres": "given names", "primer apellido": "first surname",
               "fecha de nacimiento": "birth date", "sexo": "sex",
               "nacionalidad": "nationality", "tipo de población": "population type",
               "región": "region"}
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
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
DAY_FIRST, ISO = "dd/mm/aaaa", "aaaa-mm-dd"
_FORMAT_EN = {DAY_FIRST: "dd/mm/yyyy", ISO: "yyyy-mm-dd"}
_XLSX = (".xlsx", ".xlsm")
_TEXT = (".csv", ".txt")


class ImportAborted(RuntimeError):
    """The import cannot go on: the sheet is refused, or the server refused a batch for a
    reason a retry cannot fix (401, 403, 422...)."""


def _refused(es: str, en: str) -> ImportAborted:
    return ImportAborted(f"{es} / {en}")


@dataclass
class Sheet:
    rows: list[tuple[int, dict[str, str]]]  # (line or Excel row number, cells by header)
    sha256: str
    date_format: str                        # DAY_FIRST or ISO: how the sheet writes dates


def _key(header: str) -> str:
    return fold(header).replace(" ", "_")


def _cell(value: Any) -> str:
    """An Excel cell as the text a CSV export would hold (dates as ISO, 987654321.0 as
    987654321)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(path: Path) -> list[tuple[int, list[str]]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError):
        raise _refused(f"no se pudo leer {path.name} como libro .xlsx",
                       f"{path.name} could not be read as an .xlsx workbook") from None
    try:
        sheet = book.worksheets[0]
        return [(n, [_cell(v) for v in values]) for n, values in enumerate(
            sheet.iter_rows(values_only=True), start=1)]
    finally:
        book.close()


def _read_csv(raw: bytes, name: str) -> list[tuple[int, list[str]]]:
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise _unsupported(name)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            content = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise _refused(f"{name} no es texto UTF-8 ni Windows-1252: guárdelo como CSV UTF-8",
                           f"{name} is neither UTF-8 nor Windows-1252 text: save it as CSV "
                           f"UTF-8") from None
    sample = content[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    return [(reader.line_num, row) for row in reader]


def _unsupported(name: str) -> ImportAborted:
    suffix = Path(name).suffix or name
    return _refused(f"formato no admitido ({suffix}): guarde la hoja como .xlsx o .csv",
                    f"unsupported format ({suffix}): save the sheet as .xlsx or .csv")


def check_headers(headers: list[str], *, ignore_unknown: bool = False) -> None:
    """Refuses a sheet whose columns would be lost or whose people could not be registered:
    unknown columns (unless ignored on purpose), missing required ones, a field twice."""
    named = [h.strip() for h in headers if h and h.strip()]
    unknown = [h for h in named if _key(h) not in HEADERS]
    fields = [HEADERS[_key(h)] for h in named if _key(h) in HEADERS]
    missing = [label for f, label in REQUIRED.items() if f not in fields]
    twice = sorted({h for h in named if _key(h) in HEADERS and fields.count(HEADERS[_key(h)])
                    > 1})
    problems_es, problems_en = [], []
    if unknown and not ignore_unknown:
        listed = ", ".join(f"«{h}»" for h in unknown)
        problems_es.append(f"columnas desconocidas: {listed}")
        problems_en.append(f"unknown columns: {listed}")
    if missing:
        problems_es.append(f"faltan columnas: {', '.join(missing)}")
        problems_en.append(f"missing columns: {', '.join(REQUIRED_EN[m] for m in missing)}")
    if twice:
        problems_es.append(f"columnas del mismo campo: {', '.join(twice)}")
        problems_en.append(f"columns of the same field: {', '.join(twice)}")
    if problems_es:
        raise _refused(
            "hoja rechazada, nada enviado: " + "; ".join(problems_es) + " (vea "
            "docs/import-profiles.md; --ignore-unknown-columns para omitir columnas a propósito)",
            "sheet refused, nothing sent: " + "; ".join(problems_en))



def read_sheet(path: Path, *, ignore_unknown: bool = False) -> Sheet:
    """The data rows with their line (CSV) or row (Excel) numbers, the file's SHA-256 and
    its date format. CSV: UTF-8 (with or without BOM) or Windows-1252, comma or semicolon;
    Excel: the first sheet of an .xlsx. Anything else, or bad headers, is refused here."""
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in _XLSX:
        lines = _read_xlsx(path)
    elif suffix in _TEXT or not suffix:
        lines = _read_csv(raw, path.name)
    else:
        raise _unsupported(path.name)
    lines = [(n, cells) for n, cells in lines if any(c.strip() for c in cells)]
    if not lines:
        raise _refused(f"{path.name} está vacío", f"{path.name} is empty")
    headers = lines[0][1]
    check_headers(headers, ignore_unknown=ignore_unknown)
    _check_headerless(headers, lines[1:])
    rows = [(n, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers) if h})
            for n, cells in lines[1:]]
    return Sheet(rows, hashlib.sha256(raw).hexdigest(), _date_format(rows))


def _check_headerless(headers: list[str], lines: list[tuple[int, list[str]]]) -> None:
    """Values in a column without a header would be dropped without a word: refused."""
    lost = sorted({i + 1 for _, cells in lines for i, v in enumerate(cells)
                   if v.strip() and (i >= len(headers) or not headers[i].strip())})
    if lost:
        listed = ", ".join(str(i) for i in lost)
        raise _refused(f"hoja rechazada, nada enviado: hay datos sin encabezado (columna "
                       f"{listed}); póngale nombre o bórrela",
                       f"sheet refused, nothing sent: values under no header (column "
                       f"{listed}); name it or delete it")


def _date_format(rows: list[tuple[int, dict[str, str]]]) -> str:
    """How the sheet writes dates: day first unless most of its date cells are ISO."""
    day_first = iso = 0
    for _, cells in rows:
        for header, value in cells.items():
            if HEADERS.get(_key(header)) in ("birth_date", "document_expiry"):
                day_first += bool(_DAY_FIRST.match(value.strip()))
                iso += bool(_ISO.match(value.strip()))
    return ISO if iso > day_first else DAY_FIRST


_BAD_DATE = Text("Fecha no válida: escriba {fmt}, como el resto de la hoja",
                 "Invalid date: write {fmt_en}, as the rest of the sheet does")


def _date(value: str, fmt: str, field: str, errors: list[dict[str, str]], lang: str) -> str:
    """A sheet date as ISO for the API; a wrong one is an error in the sheet's format."""
    day_first, iso = _DAY_FIRST.match(value), _ISO.match(value)
    try:
        if day_first:
            day, month, year = (int(g) for g in day_first.groups())
            return date(year, month, day).isoformat()
        if iso:
            year, month, day = (int(g) for g in iso.groups())
            return date(year, month, day).isoformat()
    except ValueError:
        pass
    errors.append({"field": field, "message": _BAD_DATE.render(
        "en" if lang == "en" else "es", fmt=fmt, fmt_en=_FORMAT_EN[fmt])})
    return value


def _document(cells: dict[str, str], body: dict[str, Any], date_format: str,
              errors: list[dict[str, str]], lang: str) -> dict[str, Any]:
    kind = cells.get("document_type", "")
    doc_type = DOCUMENTS.get(fold(kind), kind)
    if fold(kind) in ("cedula", "ci"):
        doc_type = "ve_cedula" if body.get("nationality") == "VEN" else "ec_cedula"
    elif fold(kind) == "pasaporte":
        doc_type = "ve_passport" if body.get("nationality") == "VEN" else "passport"
    doc: dict[str, Any] = {"type": doc_type, "number": cells["document_number"]}
    if cells.get("document_expiry"):
        doc["expiry_date"] = _date(cells["document_expiry"], date_format,
                                   "documents[0].expiry_date", errors, lang)
    if cells.get("document_issuing_country"):
        doc["issuing_country"] = cells["document_issuing_country"].upper()
    elif doc_type == "passport" and body.get("nationality"):
        doc["issuing_country"] = body["nationality"]
    return doc


def convert_row(row: dict[str, str], date_format: str = DAY_FIRST, lang: str = "es"
                ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One spreadsheet row as a ProfileCreate body (the server validates the rest), and the
    errors found here (dates, region names), in the language of the messages."""
    cells = {HEADERS.get(_key(k), ""): (v or "").strip() for k, v in row.items() if k}
    cells.pop("", None)
    errors: list[dict[str, str]] = []
    body: dict[str, Any] = {}
    for name in ("given_names", "first_surname", "second_surname", "district",
                 "phone", "email", "gender_identity", "occupation_desired"):
        if cells.get(name):
            body[name] = cells[name]
    if cells.get("region"):
        try:
            body["region"] = region_code(cells["region"])
        except RegionNameError as exc:
            errors.append({"field": "region",
                           "message": exc.text.render("en" if lang == "en" else "es")})
    if cells.get("birth_date"):
        body["birth_date"] = _date(cells["birth_date"], date_format, "birth_date", errors,
                                   lang)
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
        body["documents"] = [_document(cells, body, date_format, errors, lang)]
    return body, errors


def row_to_payload(row: dict[str, str]) -> dict[str, Any]:
    """One spreadsheet row as a ProfileCreate body (what ``convert_row`` could convert)."""
    return convert_row(row)[0]
