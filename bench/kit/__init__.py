"""The benchmarks' library: what two or more scripts under bench/ use, written once.

Each script (``python bench/<script>.py``) keeps only its own measurement and imports what it
shares from here: ``kit.app`` (every name taken from the application, in one table),
``kit.databases`` (throw-away PostgreSQL and SQLite databases), ``kit.seed`` (synthetic
profiles by COPY), ``kit.tokens`` (callers of every role and their bearer tokens),
``kit.processes`` (servers started, waited for and always stopped), ``kit.httpload`` (wrk, or
bench/loadgen.py where wrk is missing), ``kit.meters`` (CPU and memory of processes, from
/proc), ``kit.stats`` (percentiles, ratios) and ``kit.report`` (PASS/FAIL tables, results
files, what was measured).

A script run from bench/ has bench/ on ``sys.path`` (hence ``import kit``); importing the kit
puts the repository root there too, for the application's packages.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
