"""issue 18: with several workers, /metrics counts every worker's requests, not only those
of the worker that answers the scrape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.metrics import MULTIPROC_ENV, prepare_multiprocess

WORKER = """
from shared.observability import REQUESTS
REQUESTS.labels("gateway", "GET", "/healthz", "200").inc()
"""
SCRAPER = """
import sys
from shared.metrics import exposition
sys.stdout.write(exposition().decode())
"""


def _run(code: str, directory: Path) -> str:
    env = {**os.environ, MULTIPROC_ENV: str(directory)}
    return subprocess.run([sys.executable, "-c", code], env=env, check=True,
                          capture_output=True, text=True, timeout=60).stdout


def test_two_workers_are_summed_in_one_scrape(tmp_path: Path) -> None:
    _run(WORKER, tmp_path)
    _run(WORKER, tmp_path)
    exposed = _run(SCRAPER, tmp_path)
    line = ('ruta_http_requests_total{method="GET",route="/healthz",service="gateway",'
            'status="200"} 2.0')
    assert line in exposed
    assert "ruta_db_pool_size" in exposed


def test_serve_with_workers_starts_from_an_empty_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    prepare_multiprocess(2)
    assert not list(tmp_path.glob("*.db"))
