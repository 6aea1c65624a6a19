"""Log check: a full test run at DEBUG level leaves logs, and none of them names a person.

    make logcheck     # or: .venv/bin/python bench/logcheck.py [--failures-only] [-- pytest args]

Runs the suite with the production logging configuration (JSON, DEBUG, structlog on stderr,
the scrubber on: ``shared.logging.configure_logging``) installed by this file as a pytest
plugin, stderr captured to bench/results/logcheck-stderr.log; then looks in it for the
personal data of the synthetic population and of the tests: every name of
services/registry/synthetic.py, every name, document number, e-mail and phone written in
tests/, and anything shaped like an e-mail or a test document number. Exit 1 when the log is
empty or a leak is found (each printed with its line), 0 otherwise.

Failure injection (issue 16, item 1) runs first, on its own: tests/proof/test_failure_logs.py
makes writes of a marked person fail in the database — a trigger raising with the row's
values (a failing write), a CHECK constraint violated under COPY, the backend terminated
mid-statement (a lost connection) — behind a real uvicorn, and ``ruta seed-synthetic`` fail
(tests/services/registry/test_seed_failure.py). The check requires the three failures in the
log (by exception class and SQLSTATE), with no value of the person. ``--failures-only`` runs
only that part (CI, under a minute).

Which database: ``RUTA_TEST_DATABASE`` when set; otherwise PostgreSQL when the server of
``RUTA_TEST_PG_URL`` (default postgresql+asyncpg://postgres@127.0.0.1:5432) answers, else
SQLite, where the PostgreSQL injections are skipped and the check says so (with CI=true an
unreachable PostgreSQL is a failure).
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterable

from kit import BENCH, RESULTS, ROOT, app
from kit.databases import LOCAL_PG_URL, PostgresUnavailable, check_reachable
from kit.report import print_checks, relative

LOG = RESULTS / "logcheck-stderr.log"
PERSONAL_KEYS = {"given_names", "first_surname", "second_surname", "number", "email",
                 "phone", "document", "document_number", "name", "q", "full_name"}
SHAPES = [
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}"),      # an e-mail
    re.compile(r"\bV-?\d{1,2}\.?\d{3}\.?\d{3}\b"),                         # Venezuelan cédula
    re.compile(r"\bCPP\d{6,}\b"),                                          # test CPP numbers
]
FAILURE_TESTS = ["tests/proof/test_failure_logs.py",
                 "tests/services/registry/test_seed_failure.py"]
# Each injected failure must have reached the log (so the check looked at something).
INJECTED = {
    "failing write (trigger raising with the row) logged": ('"RaiseError"', '"P0001"'),
    "constraint violation (CHECK under COPY) logged": ('"CheckViolationError"', '"23514"'),
    "lost connection (backend terminated) logged": ('"AdminShutdownError"',
                                                    '"database_unavailable"'),
}


def pytest_configure(config: object) -> None:
    """Loaded with ``-p logcheck``: the process logs exactly as a deployed one would."""
    app.configure_logging("DEBUG", json=True)


def _literals_from_tests() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            pairs: Iterable[tuple[ast.expr | None, ast.expr]]
            if isinstance(node, ast.Dict):
                pairs = zip(node.keys, node.values, strict=False)
            elif isinstance(node, ast.Call):
                pairs = ((ast.Constant(kw.arg), kw.value) for kw in node.keywords if kw.arg)
            else:
                continue
            for k, v in pairs:
                if (isinstance(k, ast.Constant) and k.value in PERSONAL_KEYS
                        and isinstance(v, ast.Constant) and isinstance(v.value, str)):
                    found.add(v.value)
    return found


def _synthetic_names() -> set[str]:
    syn = app.registry_synthetic
    names: set[str] = set()
    for attr in dir(syn):
        value = getattr(syn, attr)
        if attr.isupper() and isinstance(value, list) and value and isinstance(value[0], str):
            names.update(value)
    return names


def needles() -> set[str]:
    out = {s.strip() for s in _literals_from_tests() | _synthetic_names()}
    # A person's name is capitalised, a document number has digits, an e-mail an "@"; field
    # names ("given_names") and codes ("pe-empleo") are not personal. Too short: ambiguous.
    return {s for s in out if len(s) >= 4 and (any(c.isupper() or c.isdigit() or c == "@"
                                                   for c in s))
            and not (s.isdigit() and len(s) < 7) and not re.fullmatch(r"[A-Z]{2}-[A-Z]{1,3}", s)}


def scan(text: str, words: set[str]) -> list[tuple[int, str, str]]:
    leaks = []
    pattern = re.compile(r"(?<![\w])(" + "|".join(
        re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w])")
    for i, line in enumerate(text.splitlines(), 1):
        for m in pattern.finditer(line):
            leaks.append((i, m.group(1), line[:300]))
        for shape in SHAPES:
            for m in shape.finditer(line):
                leaks.append((i, m.group(0), line[:300]))
    return leaks


def choose_database(env: dict[str, str]) -> tuple[str, str]:
    """(backend, PostgreSQL URL): PostgreSQL whenever it answers, unless told otherwise."""
    url = env.get("RUTA_TEST_PG_URL") or LOCAL_PG_URL
    if env.get("RUTA_TEST_DATABASE"):
        return env["RUTA_TEST_DATABASE"], url
    try:
        asyncio.run(check_reachable(url))
    except PostgresUnavailable:
        return "sqlite", url
    return "postgresql", url


def run_pytest(args: list[str], env: dict[str, str], err: object) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:logging", "-p", "logcheck", "-s",
           *args]
    print("running: " + " ".join(cmd[2:]) + f"  (stderr → {relative(LOG)})", flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err,
                          text=True, check=False)
    return proc.returncode, (proc.stdout.strip().splitlines() or ["(no output)"])[-1]


def main() -> None:
    extra = sys.argv[1:]
    failures_only = "--failures-only" in extra
    extra = [a for a in extra if a != "--failures-only"]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    LOG.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RUTA_LOG_LEVEL": "DEBUG", "RUTA_LOG_JSON": "true",
           "PYTHONPATH": os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")])}
    backend, pg_url = choose_database(env)
    env.update(RUTA_TEST_DATABASE=backend, RUTA_TEST_PG_URL=pg_url)
    print(f"database: {backend}" + (f" ({pg_url})" if backend == "postgresql" else
                                    " (PostgreSQL not reachable: failure injection skipped)"))
    runs: list[tuple[int, str]] = []
    with LOG.open("w") as err:
        runs.append(run_pytest(FAILURE_TESTS, env, err))
        if not failures_only:
            runs.append(run_pytest([*(f"--ignore={t}" for t in FAILURE_TESTS), *extra], env,
                                   err))
    text = LOG.read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    json_lines = sum(ln.startswith("{") for ln in lines)
    words = needles()
    # the scanner must see what it looks for (a planted line of each kind)
    planted = 'x "María José Pérez" V-12.345.678 ana.gomez@example.org CPP0077665 y'
    if len({w for _, w, _ in scan(planted, words)}) < 4:
        print("the scanner does not find planted personal data: fix bench/logcheck.py")
        sys.exit(1)
    leaks = scan(text, words)
    for code, summary in runs:
        print(f"pytest: {summary} (exit {code})")
    print(f"log: {len(lines)} lines ({json_lines} JSON); looked for {len(words)} names, "
          f"document numbers, e-mails and phones, plus e-mail and document shapes")
    for line_no, what, line in leaks[:30]:
        print(f"  LEAK line {line_no}: {what!r} in {line}")
    checks = [("the logs are not empty", json_lines > 0),
              ("access log lines present", '"event": "request"' in text),
              ("no personal data in the logs", not leaks)]
    if backend == "postgresql":
        checks += [(name, all(m in text for m in marks)) for name, marks in INJECTED.items()]
    elif os.environ.get("CI"):
        checks.append(("failure injection on PostgreSQL (unreachable)", False))
    print()
    print_checks("log check", [(name, ok, "") for name, ok in checks], width=40)
    if any(code != 0 for code, _ in runs):
        print("note: a test run itself failed (see above); the log was checked anyway")
    sys.exit(0 if all(ok for _, ok in checks) else 1)


if __name__ == "__main__":
    main()
