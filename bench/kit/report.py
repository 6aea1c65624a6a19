"""What a benchmark prints and keeps: what was measured (code, command, machine), PASS/FAIL
tables, results files under bench/results/."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from kit import RESULTS, ROOT

Check = tuple[str, bool, str]  # (what, passed, detail)


def git_state() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("RUTA_BENCH_CODE", "unknown (not a git checkout; "
                              "set RUTA_BENCH_CODE)")
    changed = len(dirty.stdout.splitlines())
    return head.stdout.strip() + (f" + {changed} uncommitted file(s)" if changed else "")


def command_line() -> str:
    """This run's command, as it could be typed again."""
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        cpu_model = next((ln.split(":", 1)[1].strip() for ln in
                          Path("/proc/cpuinfo").read_text().splitlines()
                          if ln.startswith("model name")), "")
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model,
            "platform": platform.platform(), "python": platform.python_version()}


def stamp() -> str:
    """A run's time in file names: 20261204-153000 (UTC)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


def write_results(name: str, data: Any, when: str | None = None) -> Path:
    """``bench/results/<name>-<stamp>.json``; returns its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{when or stamp()}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def relative(path: Path) -> str:
    """``path`` as seen from the repository root (when it is under it)."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


def print_checks(title: str, checks: list[Check], width: int = 66) -> int:
    """A PASS/FAIL table; returns how many checks failed."""
    print(f"{title:<{width}} result  detail")
    for name, ok, detail in checks:
        print(f"{name:<{width}} {'PASS' if ok else 'FAIL'}    {detail}".rstrip())
    failed = sum(not ok for _, ok, _ in checks)
    print(f"{len(checks) - failed}/{len(checks)} checks passed")
    return failed
