"""Generated clients from the live merged document (issue 15, item 3), each step timed:

1. start the embedded shape (`ruta migrate`, `seed-demo`, `serve`) on a free loopback port;
2. fetch /openapi.json into contract/generated/;
3. openapi-typescript → generated/schema.d.ts, then `tsc --strict --noEmit` on usage.ts;
4. openapi-python-client (in .venv-contract, a venv of its own) → generated/python, imported
   there, and one generated operation (`GET /v1/me`) called with it on the live server.

Run from the repository root: `.venv/bin/python contract/run.py` (`make contract` first runs
`npm ci` and makes the venv). `--tolerate-known-defs` patches, in the local copy only, a
schema inlined with `$ref: #/$defs/...` that resolves nowhere — for trying the pipeline
before the merge is fixed; never by default, never in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.support.live import LiveServer, live_server  # noqa: E402

GENERATED = HERE / "generated"
BIN = HERE / "node_modules" / ".bin"
VENV = ROOT / ".venv-contract"


@contextmanager
def step(name: str) -> Iterator[None]:
    print(f"[contract] {name} ...", flush=True)
    started = time.monotonic()
    yield
    print(f"[contract] {name}: ok in {time.monotonic() - started:.1f} s", flush=True)


def run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    argv = [str(c) for c in command]  # our own tools, from this folder and its venv
    done = subprocess.run(argv, cwd=HERE, capture_output=True, text=True,  # noqa: S603
                          check=False, env=env)
    if done.returncode != 0:
        print(done.stdout[-6000:], done.stderr[-6000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"[contract] failed: {' '.join(map(str, command))}")
    return done.stdout


def tolerate_known_defs(node: Any, definitions: dict[str, Any]) -> None:
    """Lift every inlined ``$defs`` into components.schemas and point its refs there."""
    if isinstance(node, dict):
        for name, schema in node.pop("$defs", {}).items():
            definitions.setdefault(name, schema)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
        for value in node.values():
            tolerate_known_defs(value, definitions)
    elif isinstance(node, list):
        for value in node:
            tolerate_known_defs(value, definitions)


def fetch_document(server: LiveServer, tolerate: bool) -> Path:
    doc = httpx.get(server.base_url + "/openapi.json", timeout=60).raise_for_status().json()
    if tolerate:
        tolerate_known_defs(doc["paths"], doc.setdefault("components", {}).setdefault(
            "schemas", {}))
        print("[contract] WARNING: --tolerate-known-defs: $defs patched in the local copy")
    GENERATED.mkdir(exist_ok=True)
    path = GENERATED / "openapi.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


CALL_ME = """
import pathlib, sys
import ruta_client
from ruta_client import AuthenticatedClient
base_url, token = sys.argv[1:3]
api = pathlib.Path(ruta_client.__file__).parent / "api"
found = [p for p in api.rglob("*.py")
         if '"method": "get"' in p.read_text() and '"url": "/v1/me"' in p.read_text()]
assert len(found) == 1, found
module_name = ".".join(found[0].relative_to(api.parent.parent).with_suffix("").parts)
module = __import__(module_name, fromlist=["sync_detailed"])
answer = module.sync_detailed(client=AuthenticatedClient(base_url=base_url, token=token))
assert answer.status_code == 200, (answer.status_code, answer.content)
print("[contract] python client:", module_name, "->", answer.status_code,
      type(answer.parsed).__name__)
"""


def python_client(doc: Path, server: LiveServer) -> None:
    target = GENERATED / "python"
    python = VENV / "bin" / "python"
    with step("openapi-python-client generate"):
        run(VENV / "bin" / "openapi-python-client", "generate", "--path", doc,
            "--output-path", target, "--overwrite", "--config", HERE / "python-client.yaml",
            "--fail-on-warning")
    with step("import the Python client, call GET /v1/me with it"):
        env = {**os.environ, "PYTHONPATH": str(target)}
        print(run(python, "-c", CALL_ME, server.base_url, server.token("caseworker"), env=env),
              end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tolerate-known-defs", action="store_true",
                        help="local only: patch inlined $defs refs in the fetched copy")
    args = parser.parse_args()
    started = time.monotonic()
    with ExitStack() as stack:
        with step("start the embedded server"):
            data = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            live = stack.enter_context(live_server(data))
        with step("fetch /openapi.json"):
            doc = fetch_document(live, args.tolerate_known_defs)
        with step("openapi-typescript"):
            run(BIN / "openapi-typescript", doc, "--output", GENERATED / "schema.d.ts")
        with step("tsc --strict --noEmit usage.ts"):
            run(BIN / "tsc", "--strict", "--noEmit", "-p", HERE / "tsconfig.json")
        python_client(doc, live)
    print(f"[contract] clients: all steps passed in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
