"""The production Kustomize overlay taken at its word (issue 17, item 4): rendered by
`kubectl kustomize` (through an operator's own overlay that only names the identity
provider), every project Deployment and migration Job run as rendered — ConfigMap and
Secret references resolved, with the Secrets (`ruta-secrets` and CloudNativePG's
`<cluster>-app`) made up here — and the same journey as for compose."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import ON_POSTGRES
from tests.deploy.journey import journey
from tests.deploy.runner import ROOT, Rendered, deployed
from tests.gateway.test_oidc import IdP

pytestmark = [pytest.mark.slow, ON_POSTGRES,
              pytest.mark.skipif(shutil.which("kubectl") is None and not os.environ.get("CI"),
                                 reason="kubectl renders the overlay (CI fails without it)")]
OVERLAY = ROOT / "deploy/kubernetes/overlays/production"
VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
ADMIN_SECRET = secrets.token_hex(24)


def made_up_secrets() -> dict[str, dict[str, str]]:
    """What External Secrets and the CloudNativePG operator would create."""
    made = {"ruta-secrets": {
        "RUTA_INTERNAL_SECRET": secrets.token_hex(32),
        "RUTA_CURSOR_SECRET": secrets.token_hex(32),
        "RUTA_DATA_KEYS": '{"k1": "' + "QUJD" * 10 + "QUI=" + '"}',
        "RUTA_BOOTSTRAP_ADMIN_CLIENT_SECRET": ADMIN_SECRET}}
    for db in ("gateway", "registry", "referrals", "credentials"):
        made[f"ruta-{db}-db-app"] = {"username": "app", "password": secrets.token_hex(16)}
    return made


def render(tmp: Path, issuers: str) -> list[dict[str, Any]]:
    mine = tmp / "overlay"
    mine.mkdir()
    (mine / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(OVERLAY, mine)],
        "configMapGenerator": [{"name": "ruta-config", "behavior": "merge",
                                "literals": [f"RUTA_OIDC_ISSUERS={issuers}"]}]}))
    out = subprocess.run(["kubectl", "kustomize", str(mine)], capture_output=True, text=True,
                         check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _expand(value: str, env: dict[str, str]) -> str:
    return VAR.sub(lambda m: env.get(m.group(1), m.group(0)), value)


def _environment(c: dict[str, Any], config: dict[str, dict[str, str]],
                 made: dict[str, dict[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(config[source["configMapRef"]["name"]])
    for item in c.get("env", []):
        if "value" in item:
            env[item["name"]] = _expand(item["value"], env)
        elif ref := item["valueFrom"].get("configMapKeyRef"):
            env[item["name"]] = config[ref["name"]][ref["key"]]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = made[ref["name"]][ref["key"]]
    return env


def _mounts(pod: dict[str, Any], c: dict[str, Any], made: dict[str, dict[str, str]],
            tmp: Path) -> dict[str, Path]:
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {}
    for m in c.get("volumeMounts", []):
        volume = volumes[m["name"]]
        local = tmp / "mounts" / f"{c['name']}-{m['name']}"
        local.mkdir(parents=True, exist_ok=True)
        if "secret" in volume:
            data = made[volume["secret"]["secretName"]]
            items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                (local / item["path"]).write_text(data[item["key"]])
        mounts[m["mountPath"]] = local
    return mounts


def processes(docs: list[dict[str, Any]], made: dict[str, dict[str, str]], tmp: Path
              ) -> list[Rendered]:
    config = {d["metadata"]["name"]: d.get("data", {}) for d in docs
              if d["kind"] == "ConfigMap"}
    found = []
    for d in docs:
        if d["kind"] not in ("Deployment", "Job"):
            continue
        pod = d["spec"]["template"]["spec"]
        for c in pod["containers"]:
            if not c["image"].startswith("ghcr.io/ruta-empleabilidad/"):
                continue
            assert "command" in c, f"{d['metadata']['name']} does not state its command"
            found.append(Rendered(name=d["metadata"]["name"], command=list(c["command"]),
                                  env=_environment(c, config, made), job=d["kind"] == "Job",
                                  mounts=_mounts(pod, c, made, tmp)))
    return found


def test_the_production_overlay_serves_the_whole_journey(
        tmp_path: Path, fresh_databases: dict[str, str], idp: tuple[IdP, str]) -> None:
    provider, issuers = idp
    docs = render(tmp_path, issuers)
    made = made_up_secrets()
    rendered = processes(docs, made, tmp_path)
    config = next(d["data"] for d in docs if d["kind"] == "ConfigMap")
    with deployed(rendered, fresh_databases, tmp_path / "logs") as gateway:
        asyncio.run(journey(gateway, public_base_url=config["RUTA_PUBLIC_BASE_URL"],
                            admin_id=config["RUTA_BOOTSTRAP_ADMIN_CLIENT_ID"],
                            admin_secret=ADMIN_SECRET, idp=provider))
