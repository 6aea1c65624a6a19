"""Issue 18, item 3: `ruta serve` as an operator runs it writes nothing but JSON — uvicorn's own
start-up and shutdown lines included — with the caller's client and organisation ids and the
trace it belongs to, and stops without logging internal 500s (before: "Started server
process" and "Shutting down" in plain text, and one 500 per service for the relay's long polls
cancelled at shutdown)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import ROOT, RUTA, free_port, server_env, serving

pytestmark = pytest.mark.slow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _serve(tmp_path: Path, extra: dict[str, str]) -> list[dict[str, Any]]:
    port = free_port()
    env = {**server_env(tmp_path, port), "RUTA_LOG_LEVEL": "INFO", **extra}
    for command in (["migrate"], ["seed-demo"]):
        subprocess.run([RUTA, *command], env=env, cwd=ROOT, check=True, capture_output=True)
    token = subprocess.run([RUTA, "token", "--as", "caseworker"], env=env, cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.strip()
    log_path = tmp_path / "serve.log"
    with serving(env, log_path, port, stop_timeout=20) as base:  # stopped by SIGTERM
        resp = httpx.get(base + "/v1/profiles", timeout=10, headers={
            "authorization": f"Bearer {token}",
            "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
        assert resp.status_code == 200, resp.text
        assert "server" not in resp.headers  # no banner naming the software and version
        time.sleep(0.5)  # the relay's long polls are waiting when the server stops
    lines = log_path.read_text().splitlines()
    assert lines
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not JSON: {line!r}\n--- whole output:\n" + "\n".join(lines))
    return parsed


def test_every_line_of_a_run_is_json_and_shutdown_is_clean(tmp_path: Path) -> None:
    lines = _serve(tmp_path, {})
    events = [line.get("event") for line in lines]
    assert any(str(e).startswith("Started server process") for e in events)
    assert "Shutting down" in events and "Application shutdown complete." in events
    assert not [line for line in lines if line.get("status", 0) >= 500], "internal 500s"
    access = [line for line in lines if line.get("route") == "/v1/profiles"
              and line.get("service") == "gateway"]
    assert access and access[0]["organisation_id"] == "ong-lima"
    assert all(line.get("level") for line in lines)


def test_with_tracing_on_lines_carry_the_callers_trace(tmp_path: Path) -> None:
    """An OTLP endpoint nobody listens on: spans are dropped, the log still names them."""
    lines = _serve(tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
                              "OTEL_BSP_SCHEDULE_DELAY": "60000"})
    access = [line for line in lines if line.get("route") == "/v1/profiles"]
    assert access and all(line["trace_id"] == TRACE and len(line["span_id"]) == 16
                          for line in access)
