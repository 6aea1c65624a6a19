"""/docs and /redoc render in a real headless Chromium with no network but loopback: every
operation of the merged document is shown. `make contract` runs it (and requires Chromium,
`RUTA_REQUIRE_CHROMIUM=1`); locally it is skipped when the `chromium` package is absent.
Screenshots go to `RUTA_DOCS_SCREENSHOTS` (a folder) when set."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.live import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.chromium]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("RUTA_REQUIRE_CHROMIUM") != "1":
    pytest.skip("Chromium not installed (apt-get install chromium); `make contract` installs "
                "it and runs this check", allow_module_level=True)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions",
         # nothing but loopback resolves: a page that needs the Internet renders nothing
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--virtual-time-budget=10000", "--window-size=1280,1600"]


def chromium(url: str, profile: Path, *output: str) -> str:
    assert CHROMIUM is not None, "Chromium is required here (RUTA_REQUIRE_CHROMIUM=1)"
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *output, url],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def operations(server: LiveServer) -> tuple[set[str], set[str]]:
    """What the pages must show: every path and every webhook (event type), and every
    operation id of both."""
    doc = httpx.get(server.base_url + "/openapi.json", timeout=30).json()
    items = {**doc["paths"], **doc.get("webhooks", {})}
    ids = {op["operationId"] for item in items.values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op}
    return set(items), ids


def render(server: LiveServer, page: str, tmp_path: Path) -> str:
    url = f"{server.base_url}/{page}"
    dom = chromium(url, tmp_path / "profile-dom", "--dump-dom")
    shots = Path(os.environ.get("RUTA_DOCS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    chromium(url, tmp_path / "profile-shot", f"--screenshot={shots / page}.png")
    assert (shots / f"{page}.png").stat().st_size > 20_000, "a blank page"
    return dom


def test_swagger_ui_shows_every_operation_offline(live: LiveServer, tmp_path: Path) -> None:
    dom = render(live, "docs", tmp_path)
    paths, _ = operations(live)
    shown = set(re.findall(r'data-path="([^"]+)"', dom))
    assert "/v1/profiles" in shown
    assert shown == paths


def test_redoc_shows_every_operation_offline(live: LiveServer, tmp_path: Path) -> None:
    dom = render(live, "redoc", tmp_path)
    _, ids = operations(live)
    shown = set(re.findall(r'href="#(?:tag/[^"/]+/)?operation/([^"]+)"', dom))
    assert ids, "operations have ids"
    assert shown == ids
