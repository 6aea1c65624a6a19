"""The README's examples run as written, so the first thing a user tries stays true: every
```bash block preceded by `<!-- example ... -->` runs in bash (`set -euo pipefail`) from the
repository root against a live embedded server — its address put where the README says
http://127.0.0.1:8000, `ruta token` signing with that server's keys — and every curl in it
must answer 2xx."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.live import ROOT, LiveServer

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
EXAMPLE = re.compile(r"<!-- example\b[^>]*-->\s*\n```bash\n(.*?)```", re.S)
DOCUMENTED_URL = "http://127.0.0.1:8000"

# curl as the README calls it, failing on an answer that is not 2xx; each status to stderr.
STRICT_CURL = r"""
curl() {
  local out code
  out=$(command curl -sS -w '\n%{http_code}' "$@")
  code=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  echo "README-EXAMPLE HTTP $code" >&2
  [[ $code == 2?? ]] || { echo "not 2xx: HTTP $code" >&2; return 22; }
}
"""


def examples(readme: Path = README) -> list[str]:
    return EXAMPLE.findall(readme.read_text())


def test_the_readme_marks_its_examples() -> None:
    found = examples()
    assert found, "no <!-- example --> block in README.md"
    assert all(DOCUMENTED_URL in block for block in found)


@pytest.mark.parametrize("number", range(len(examples())))
def test_readme_example_runs(live: LiveServer, number: int) -> None:
    block = examples()[number]
    script = "set -euo pipefail\n" + STRICT_CURL + block.replace(DOCUMENTED_URL, live.base_url)
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=live.env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, \
        f"README example {number + 1}:\n{block}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    statuses = re.findall(r"README-EXAMPLE HTTP (\d+)", done.stderr)
    assert len(statuses) == len(re.findall(r"^\s*curl ", block, re.M)), done.stderr
    assert all(s.startswith("2") for s in statuses)
