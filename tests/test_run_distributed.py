"""`make run-distributed` (python -m ruta.distributed) as an operator uses it: the token
command it prints works against it, RUTA_* settings reach every process, and SIGINT or
SIGTERM stops every child (issue 17, item 5)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from ruta.distributed import ROOT, free_port
from shared.settings import DATABASES
from tests.support.databases import IS_POSTGRES, PG_URL

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not IS_POSTGRES, reason="the launcher runs on PostgreSQL")]


def _listening(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        return True
    except httpx.TransportError:
        return False


def _processes_on(ports: list[int]) -> list[int]:
    """Pids of live processes whose command line serves one of ``ports``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z" and any(str(p).encode() in argv for p in ports) and b"uvicorn" in argv:
            found.append(int(entry.name))
    return found


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"ruta_rd_{uuid.uuid4().hex[:8]}"
    yield name
    for db in DATABASES:
        u = make_url(PG_URL)
        subprocess.run(["psql", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U",
                        u.username or "postgres", "-d", "postgres", "-qc",
                        f'DROP DATABASE IF EXISTS "{name}_{db}" WITH (FORCE)'],
                       capture_output=True, check=False)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_launcher_serves_tokens_passes_settings_and_stops_every_child(
        sig: int, prefix: str, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    env.update(RUTA_CORS_ORIGINS="https://app.ruta.test", RUTA_LOG_LEVEL="WARNING")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "ruta.distributed", "--pg-url", PG_URL, "--prefix", prefix,
         "--port", str(port), "--log-dir", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        assert launcher.stdout is not None
        while not any(line.startswith("logs in") for line in lines):
            line = launcher.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", text)]
        assert port in ports and len(ports) == 4
        assert len(_processes_on(ports)) >= 4

        command = next(line for line in lines if line.startswith("token: "))[7:].strip()
        token = subprocess.run(shlex.split(command.split(" ", 1)[1]), cwd=tmp_path,
                               env={**env, **dict([command.split(" ", 1)[0].split("=", 1)])},
                               capture_output=True, text=True, check=True).stdout.strip()
        me = httpx.get(f"http://127.0.0.1:{port}/v1/me",
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert me.status_code == 200, me.text
        listing = httpx.get(f"http://127.0.0.1:{port}/v1/profiles",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert listing.status_code == 200, listing.text  # through the gateway to a service

        cors = httpx.options(f"http://127.0.0.1:{port}/v1/profiles", timeout=10, headers={
            "Origin": "https://app.ruta.test", "Access-Control-Request-Method": "GET"})
        assert cors.headers.get("access-control-allow-origin") == "https://app.ruta.test"

        launcher.send_signal(sig)
        assert launcher.wait(timeout=30) == 0
        deadline = time.monotonic() + 5
        while _processes_on(ports) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_on(ports) == []
        assert not any(_listening(p) for p in ports)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
