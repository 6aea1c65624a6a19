"""Contract fuzzing: Schemathesis against the gateway's merged OpenAPI, as every role.

    make fuzz                                   # long run: SQLite and PostgreSQL
    .venv/bin/python bench/fuzz.py --max-examples 5 --backend sqlite   # CI's bounded run

For each backend it starts the embedded shape (``ruta.asgi:embedded``, one uvicorn process)
on throw-away databases (migrated, catalogue seeded), mints a development token for each
role against the gateway database that process uses, and runs ``st run`` once per role
with the checks below. Rate limits stay on, with a quota that fits a fuzzing client.
Prints a summary table; exit 1 when any run found a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from kit import RESULTS
from kit.databases import Databases, add_pg_url_option
from kit.processes import Server, base_env, clean_environ, kill_everything
from kit.report import relative, stamp
from kit.tokens import ROLE_CALLERS, identity_for, mint_tokens

CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance",
          "negative_data_rejection", "ignored_auth", "use_after_free",
          "ensure_resource_availability"]
ROLES = list(ROLE_CALLERS)
# One fuzzing client per role: a quota it cannot exhaust in a run, the limiter still on.
FUZZ_LIMITS = {"read": {"capacity": 100_000, "window_seconds": 60},
               "write": {"capacity": 100_000, "window_seconds": 60},
               "token": {"capacity": 1_000, "window_seconds": 60},
               "public": {"capacity": 100_000, "window_seconds": 60}}

# tries of a role x database run whose only error is Schemathesis crashing internally
ATTEMPTS = 6
# tries when a run errs for another reason (shown each time)
OTHER_ERROR_ATTEMPTS = 3


def _show_errors(backend: str, role: str, text: str, limit: int = 40) -> None:
    """Print the ERRORS section of a Schemathesis log (what could not run, and why)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip("= ") == "ERRORS"), None)
    if start is None:
        section = lines[-limit:]
    else:
        end = next((j for j in range(start + 1, len(lines))
                    if lines[j].startswith("====") and lines[j].strip("= ") != "ERRORS"),
                   len(lines))
        section = lines[start:end][:limit]
    print(f"  {backend:<11}{role:<16} errors reported by Schemathesis:", flush=True)
    for line in section:
        print(f"      {line}", flush=True)


def fuzz_role(backend: str, role: str, url: str, token: str, args: argparse.Namespace,
              out_dir: Path) -> dict[str, object]:
    """``st run`` as one role against one server, tried again while Schemathesis itself
    crashes; its row of the summary."""
    started = time.monotonic()
    cmd = [str(Path(sys.executable).parent / "st"), "run", url + "/openapi.json",
           "--checks", ",".join(args.checks),
           "-H", f"Authorization: Bearer {token}",
           "--max-examples", str(args.max_examples),
           "--seed", str(args.seed), "--workers", str(args.workers),
           "--phases", args.phases, "--request-timeout", "20",
           "--suppress-health-check", "all", "--no-color",
           "--report", "junit", "--report-dir", str(out_dir / f"{backend}-{role}")]
    if args.max_time:
        cmd += ["--max-time", str(args.max_time)]
    log = out_dir / f"{backend}-{role}.log"
    other_errors = 0
    for attempt in range(ATTEMPTS):
        with log.open("w") as fh:
            proc = subprocess.run(cmd, cwd=out_dir, stdout=fh, stderr=subprocess.STDOUT,
                                  check=False, timeout=args.timeout)
        text = log.read_text()
        failures = _count(text, r"(\d+) failures?")
        errors = _count(text, r"(\d+) errors?")
        # Schemathesis itself sometimes crashes while generating (a CPython
        # "AST constructor recursion depth mismatch"): that says nothing about
        # the API, so such a run (no failure found) is tried again. One run in
        # three or four crashes so on CPython 3.11.7: three tries failed one of
        # twelve role x database runs in CI (session 2), hence ATTEMPTS. Any other
        # error with no failure (a run that could not complete: a timeout, a reset
        # connection) is shown in full and tried again fewer times, so that CI's
        # output says what it was (session 3's CI failed on one such error, printed
        # nowhere).
        if failures or not errors or attempt == ATTEMPTS - 1:
            break
        internal = "SystemError" in text
        if not internal:
            _show_errors(backend, role, text)
            other_errors += 1
            if other_errors >= OTHER_ERROR_ATTEMPTS:
                break
        print(f"  {backend:<11}{role:<16} "
              + ("Schemathesis crashed internally" if internal else "a run could not complete")
              + "; running it once more", flush=True)
    if errors and not failures:
        _show_errors(backend, role, text)
    row: dict[str, object] = {"backend": backend, "role": role, "exit": proc.returncode,
                              "failures": failures, "errors": errors,
                              "seconds": round(time.monotonic() - started, 1),
                              "log": relative(log)}
    print(f"  {backend:<11}{role:<16} exit {proc.returncode}  failures {failures}"
          f"  errors {errors}  ({row['seconds']} s)  {relative(log)}", flush=True)
    return row


def run_backend(backend: str, args: argparse.Namespace, out_dir: Path) -> list[dict[str, object]]:
    dbs = Databases(backend, args.pg_url)
    try:
        dbs.create()
        tokens = asyncio.run(mint_tokens(dbs.urls["gateway"],
                                         {r: identity_for(r) for r in ROLES}))
        env = base_env({**dbs.env(), "RUTA_LOG_LEVEL": "WARNING",
                        "RUTA_RATE_LIMITS": json.dumps(FUZZ_LIMITS),
                        "RUTA_DATA_DIR": dbs.tmp})
        with Server(f"fuzz-{backend}", "ruta.asgi:embedded", env, out_dir) as server:
            rows = [fuzz_role(backend, role, server.url, tokens[role], args, out_dir)
                    for role in args.roles]
        if any(r["failures"] or r["errors"] for r in rows):
            _show_server_errors(out_dir / f"fuzz-{backend}.log")
        return rows
    finally:
        dbs.drop()


def _show_server_errors(log: Path, limit: int = 20) -> None:
    """The server's own error lines (JSON logs carry no personal data), so that CI's output
    shows what the server saw when a run failed or could not complete."""
    if not log.exists():
        return
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if '"error"' in line or '"critical"' in line or "Traceback" in line]
    print(f"  server log {relative(log)}: {len(lines)} error lines; the last {limit}:",
          flush=True)
    for line in lines[-limit:]:
        print(f"      {line[:400]}", flush=True)


def _count(text: str, pattern: str) -> int:
    tail = text[-3000:]
    m = re.findall(pattern, tail)
    return int(m[-1]) if m else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--max-examples", type=int, default=50)
    p.add_argument("--max-time", type=int, default=0, help="seconds per role (0: no limit)")
    p.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    p.add_argument("--roles", type=lambda s: s.split(","), default=ROLES)
    p.add_argument("--checks", type=lambda s: s.split(","), default=CHECKS)
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=int, default=3600, help="per role run, seconds")
    add_pg_url_option(p)
    args = p.parse_args()
    clean_environ()
    out_dir = RESULTS / f"fuzz-{stamp()}"
    out_dir.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: list[dict[str, object]] = []
    try:
        for backend in backends:
            print(f"{backend}: embedded shape, {len(args.roles)} roles, "
                  f"{args.max_examples} examples per operation", flush=True)
            rows += run_backend(backend, args, out_dir)
    finally:
        kill_everything()
    print()
    print(f"{'backend':<12}{'role':<17}{'failures':>9}{'errors':>8}{'exit':>6}  result")
    bad = 0
    for r in rows:
        ok = r["exit"] == 0
        bad += not ok
        print(f"{r['backend']:<12}{r['role']:<17}{r['failures']:>9}{r['errors']:>8}"
              f"{r['exit']:>6}  {'PASS' if ok else 'FAIL  see ' + str(r['log'])}")
    print(f"checks: {', '.join(args.checks)}")
    (out_dir / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    sys.exit(1 if bad or not rows else 0)


if __name__ == "__main__":
    main()
