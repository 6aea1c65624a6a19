"""docker-compose.yml taken at its word (issue 17, item 4): rendered by `docker-compose
config` with secrets made by deploy/compose/make-secrets.sh (the README's steps), every
project container run as rendered, and a journey through the gateway that crosses every
service and the worker."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import ON_POSTGRES, PUBLIC_BASE_URL
from tests.deploy.journey import journey
from tests.deploy.runner import ROOT, Rendered, deployed
from tests.gateway.test_oidc import IdP

pytestmark = [pytest.mark.slow, ON_POSTGRES,
              pytest.mark.skipif(shutil.which("docker-compose") is None
                                 and not os.environ.get("CI"),
                                 reason="docker-compose renders the file (CI fails without)")]
IMAGE = "ruta-empleabilidad:"


def render(secrets: Path, **env: str) -> dict[str, Any]:
    subprocess.run([str(ROOT / "deploy/compose/make-secrets.sh"), str(secrets)], check=True,
                   capture_output=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    out = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
                         env={**clean, "RUTA_SECRETS_PATH": str(secrets), **env},
                         capture_output=True, text=True, check=True, cwd=ROOT)
    rendered: dict[str, Any] = yaml.safe_load(out.stdout)
    return rendered


def processes(doc: dict[str, Any]) -> list[Rendered]:
    files = {name: Path(s["file"]) for name, s in doc.get("secrets", {}).items()}
    found = []
    for name, svc in doc["services"].items():
        if not str(svc.get("image", "")).startswith(IMAGE):
            continue
        assert "command" in svc, f"{name} does not state its command"
        mounts = {f"/run/secrets/{s.get('target') or s['source']}": files[s["source"]]
                  for s in svc.get("secrets", [])}
        found.append(Rendered(name=name, command=list(svc["command"]),
                              env={k: str(v) for k, v in svc.get("environment", {}).items()},
                              job=svc.get("restart") == "no", mounts=mounts))
    return found


def test_compose_refuses_to_render_without_the_public_base_url(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as err:
        render(tmp_path / "secrets", RUTA_IMAGE_TAG="t", RUTA_DATA_ACTIVE_KEY="k1")
    assert "RUTA_PUBLIC_BASE_URL" in err.value.stderr


def test_the_rendered_compose_file_serves_the_whole_journey(
        tmp_path: Path, fresh_databases: dict[str, str], idp: tuple[IdP, str]) -> None:
    provider, issuers = idp
    secrets = tmp_path / "secrets"
    doc = render(secrets, RUTA_PUBLIC_BASE_URL=PUBLIC_BASE_URL, RUTA_IMAGE_TAG="1.0.0",
                 RUTA_DATA_ACTIVE_KEY="k1", RUTA_OIDC_ISSUERS=issuers)
    rendered = processes(doc)
    for svc in doc["services"].values():  # waits on migrations, checks readiness
        if svc.get("healthcheck", {}).get("test"):
            assert "/healthz" not in " ".join(svc["healthcheck"]["test"])
    with deployed(rendered, fresh_databases, tmp_path / "logs") as gateway:
        asyncio.run(journey(
            gateway, public_base_url=PUBLIC_BASE_URL,
            admin_id=doc["services"]["gateway"]["environment"][
                "RUTA_BOOTSTRAP_ADMIN_CLIENT_ID"],
            admin_secret=(secrets / "bootstrap_admin_client_secret").read_text().strip(),
            idp=provider))
