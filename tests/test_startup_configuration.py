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
                    "RUTA_PUBLIC_BASE_URL",
                    *(f"RUTA_{d}_DATABASE_URL" for d in databases)]:
        assert setting in run.stderr, setting
    others = {"GATEWAY", "REGISTRY", "REFERRALS", "CREDENTIALS"} - set(databases)
    assert not any(f"RUTA_{d}_DATABASE_URL" in run.stderr for d in others)


def test_serve_in_production_refuses_an_identity_provider_without_bounds(
    tmp_path: Path,
) -> None:
    """Issue 16, item 8: a trusted provider must say which organisations and roles it may
    assert; the entry is named by its index, none of its values echoed."""
    issuers = ('[{"issuer": "https://idp.example/realms/a", "jwks_url": "https://idp.example/'
               'certs", "audience": "aud-not-to-echo", "organisations": ["ong-lima"], '
               '"roles": ["caseworker"]}, {"issuer": "https://idp.example/realms/b", '
               '"jwks_url": "https://idp.example/certs", "audience": "aud-not-to-echo"}]')
    run = start(tmp_path, "serve", RUTA_ENV="production", RUTA_OIDC_ISSUERS=issuers)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr + run.stdout
    assert "aud-not-to-echo" not in run.stderr + run.stdout
    assert "RUTA_OIDC_ISSUERS[1]: organisations must be set" in run.stderr
    assert "RUTA_OIDC_ISSUERS[1]: roles must be set" in run.stderr
    assert "RUTA_OIDC_ISSUERS[0]" not in run.stderr
    assert "RUTA_INTERNAL_SECRET" in run.stderr  # listed with every other problem
