"""Issue 16, item 1: ``ruta seed-synthetic`` failing in the database printed Python's traceback,
with the document numbers of the batch (SQLAlchemy's ``[parameters: ...]``, PostgreSQL's text
of the failing row). It must print one line without values and exit non-zero."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from services.registry.synthetic import SyntheticPeople
from tests.support.databases import IS_POSTGRES
from tests.support.logs import run_sql

_REFUSE = (
    ("CREATE FUNCTION seed_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
     "RAISE EXCEPTION 'refused %', NEW; END $$",
     "CREATE TRIGGER seed_refused BEFORE INSERT ON identity_documents FOR EACH ROW "
     "EXECUTE FUNCTION seed_refused()")
    if IS_POSTGRES else
    ("CREATE TRIGGER seed_refused BEFORE INSERT ON identity_documents "
     "BEGIN SELECT RAISE(ABORT, 'refused'); END",))
_ALLOW = (("DROP TRIGGER IF EXISTS seed_refused ON identity_documents",
           "DROP FUNCTION IF EXISTS seed_refused()")
          if IS_POSTGRES else ("DROP TRIGGER IF EXISTS seed_refused",))


def test_a_failing_seed_prints_one_line_without_values(
    database_urls: dict[str, str], tmp_path: Path,
) -> None:
    url = database_urls["registry"]
    asyncio.run(run_sql(url, _REFUSE))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ruta.cli", "seed-synthetic", "--count", "40", "--seed",
             "77", "--org", "ong-seed-falla"],
            env={**os.environ, "RUTA_REGISTRY_DATABASE_URL": url, "RUTA_DATA_DIR": str(tmp_path),
                 "RUTA_ENV": "development"},
            capture_output=True, text=True, timeout=120, check=False)
    finally:
        asyncio.run(run_sql(url, _ALLOW))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    # beside the progress bar's label (no values), exactly one line: the failure
    lines = [ln for ln in proc.stderr.strip().splitlines()
             if not ln.startswith("personas sintéticas")]
    assert len(lines) == 1 and lines[0].startswith("seed-synthetic falló"), proc.stderr
    people = SyntheticPeople(seed=77).people(40)
    values = {re.sub(r"\D", "", d["number"]) for p in people for d in p["documents"]}
    values |= {p["first_surname"] for p in people} | {p.get("email") or "@" for p in people}
    leaked = sorted(v for v in values if v in re.sub(r"[.-]", "", out) or v in out)
    assert not leaked, f"{leaked} in:\n{out[-2000:]}"
