"""``ruta import-profiles`` against a real ``ruta serve`` (issue 16, item 11): the gateway is
found through RUTA_HOST/RUTA_PORT, Ctrl-C says how far it got and the command it prints
resumes without duplicating anyone, a second run of the same import is refused."""

from __future__ import annotations

import csv
import fcntl
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.registry.synthetic import CSV_COLUMNS, SyntheticPeople, as_csv_row
from tests.support.live import ROOT, RUTA, LiveServer, live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("import-live")) as server:
        yield server


def _sheet(path: Path, n: int, seed: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(as_csv_row(p) for p in SyntheticPeople(seed=seed).people(n))
    return path


def _ruta(live: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RUTA, *args], env=live.env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)



def test_the_gateway_is_found_through_ruta_port(live: LiveServer, tmp_path: Path) -> None:
    sheet = _sheet(tmp_path / "lista.csv", 30, seed=71)
    done = _ruta(live, "import-profiles", str(sheet), "--org", "ong-lima")  # no --url
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("30 filas: 30 creadas")


def test_ctrl_c_then_the_printed_command_resumes_without_duplicates(
    live: LiveServer, tmp_path: Path
) -> None:
    sheet = _sheet(tmp_path / "grande.csv", 600, seed=72)
    results = tmp_path / "grande.results.csv"
    proc = subprocess.Popen([RUTA, "import-profiles", str(sheet), "--org", "ong-lima",
                             "--batch-size", "10"], env=live.env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not results.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "de 600 filas enviadas" in err
    resume = err.rsplit("Para continuar / to resume: ", 1)[1].strip()
    assert resume == f"ruta import-profiles {sheet} --org ong-lima --batch-size 10"
    again = _ruta(live, *shlex.split(resume)[1:])
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("600 filas: 600 creadas")
    with results.open(encoding="utf-8") as fh:
        statuses = [r["status"] for r in csv.DictReader(fh)]
    assert statuses == ["created"] * 600  # the batch in flight was replayed, not repeated


def test_a_second_run_of_the_same_import_is_refused(live: LiveServer, tmp_path: Path) -> None:
    sheet = _sheet(tmp_path / "doble.csv", 5, seed=73)
    with (tmp_path / "doble.results.csv.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a first run holds it
        refused = _ruta(live, "import-profiles", str(sheet), "--org", "ong-lima")
    assert refused.returncode == 1
    assert "otra importación de este archivo está en curso" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = _ruta(live, "import-profiles", str(sheet), "--org", "ong-lima")
    assert done.returncode == 0 and done.stdout.startswith("5 filas: 5 creadas")
