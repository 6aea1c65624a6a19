"""Production refuses to start with one clean message listing every missing or invalid
setting: no traceback, no secret echoed (issue 16, items 7 and 8 of the findings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RUTA = Path(sys.executable).with_name("ruta")


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    return subprocess.run([str(RUTA), *args], cwd=tmp_path, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("args", "databases"), [
    ((), ["GATEWAY", "REGISTRY", "REFERRALS", "CREDENTIALS"]),
    (("--service", "registry"), ["REGISTRY"]),
])
def test_serve_in_production_lists_every_missing_setting_at_once(
    tmp_path: Path, args: tuple[str, ...], databases: list[str],
) -> None:
    leaked = "not-a-real-secret-but-short"
    run = start(tmp_path, "serve", *args, RUTA_ENV="production", RUTA_INTERNAL_SECRET=leaked)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr + run.stdout
    assert leaked not in run.stderr + run.stdout
    for setting in ["RUTA_INTERNAL_SECRET", "RUTA_CURSOR_SECRET", "RUTA_DATA_KEYS",
                    *(f"RUTA_{d}_DATABASE_URL" for d in databases)]:
        assert setting in run.stderr, setting
    others = {"GATEWAY", "REGISTRY", "REFERRALS", "CREDENTIALS"} - set(databases)
    assert not any(f"RUTA_{d}_DATABASE_URL" in run.stderr for d in others)
