"""Load on one URL from a separate process: wrk (Debian's package, installed once if
missing), else bench/loadgen.py (aiohttp; slower and hungrier for the CPU, so compare its
ratios, not its absolute figures). Both report requests, seconds, requests_per_s, p50_ms,
p95_ms, p99_ms, non_2xx and errors."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kit import BENCH
from kit.processes import STARTED, BenchError, kill_group

# wrk's summary as one JSON line at the end of its output (latency in µs), with the latency
# at 1,000 evenly spaced quantiles (the middle of each 0.1% of requests) so that slices of one
# measurement can be merged (``merge_slices``)
QUANTILES = 1000
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  local q = {}
  for i = 1, QUANTILES do q[i] = latency:percentile((i - 0.5) * 100 / QUANTILES) end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"q_us":[%s]}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    table.concat(q, ",")))
end
""".replace("QUANTILES", str(QUANTILES))


def ensure_wrk() -> bool:
    """Whether wrk is there, after trying ``apt-get install -y wrk`` once if it was not."""
    if shutil.which("wrk") is None:
        print("wrk not found; trying `apt-get install -y wrk` once...", flush=True)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(["apt-get", "install", "-y", "wrk"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=180, check=False)
    return shutil.which("wrk") is not None


def wrk_summary(out: str) -> dict[str, Any]:
    """The figures of wrk's output, from the JSON line ``WRK_LUA`` writes."""
    try:
        data = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise BenchError("could not parse wrk output:\n" + out) from None
    secs = data["duration_us"] / 1e6
    return {"requests": data["requests"], "seconds": secs,
            "requests_per_s": data["requests"] / secs if secs else 0.0,
            "p50_ms": data["p50_us"] / 1000, "p95_ms": data["p95_us"] / 1000,
            "p99_ms": data["p99_us"] / 1000, "non_2xx": data["non_2xx"],
            "errors": data["errors"], "quantiles_ms": [q / 1000 for q in data["q_us"]]}


def merge_slices(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One measurement from slices of it taken at different moments (interleaved with
    another measurement): requests and seconds add up; the percentiles are those of the
    slices' latency quantiles, each standing for an equal share of its slice's requests."""
    requests = sum(s["requests"] for s in slices)
    seconds = sum(s["seconds"] for s in slices)
    points = sorted((q, s["requests"] / len(s["quantiles_ms"]))
                    for s in slices for q in s["quantiles_ms"])

    def at(share: float) -> float:
        seen = 0.0
        for value, weight in points:
            seen += weight
            if seen >= share * requests:
                return value
        return points[-1][0] if points else float("nan")

    return {"requests": requests, "seconds": seconds,
            "requests_per_s": requests / seconds if seconds else 0.0,
            "p50_ms": at(.50), "p95_ms": at(.95), "p99_ms": at(.99),
            "non_2xx": sum(s["non_2xx"] for s in slices),
            "errors": sum(s["errors"] for s in slices),
            "slices": [{k: v for k, v in s.items() if k != "quantiles_ms"} for s in slices]}


class LoadGenerator:
    """``threads`` wrk threads (or loadgen processes) holding ``connections`` keep-alive
    connections, one request after another on each."""

    def __init__(self, kind: str, threads: int, connections: int) -> None:
        self.kind = kind
        self.threads = threads
        self.connections = connections

    @classmethod
    def choose(cls, wanted: str, threads: int, connections: int) -> LoadGenerator:
        """``wanted``: auto (wrk if it is there or can be installed), wrk, or aiohttp."""
        have_wrk = wanted != "aiohttp" and ensure_wrk()
        if wanted == "wrk" and not have_wrk:
            raise BenchError("wrk is not installed and could not be installed")
        if not have_wrk:
            print("load generator: bench/loadgen.py (aiohttp) — slower than wrk; compare "
                  "ratios, not absolute figures", flush=True)
        return cls("wrk" if have_wrk else "aiohttp", threads, connections)

    def describe(self) -> str:
        if self.kind == "wrk":
            version = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                                     check=False).stdout.splitlines()
            name = version[0].split(" Copyright")[0] if version else "wrk"
            return f"{name} -t{self.threads} -c{self.connections}"
        return f"bench/loadgen.py (aiohttp) processes={self.threads} c={self.connections}"

    def command(self, url: str, headers: dict[str, str], seconds: int, script: Path
                ) -> list[str]:
        if self.kind == "wrk":
            cmd = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
                   "--timeout", "10s", "-s", str(script)]
            for k, v in headers.items():
                cmd += ["-H", f"{k}: {v}"]
            return [*cmd, url]
        cmd = [sys.executable, str(BENCH / "loadgen.py"), "--url", url, "--connections",
               str(self.connections), "--duration", str(seconds), "--processes",
               str(self.threads)]
        for k, v in headers.items():
            cmd += ["--header", f"{k}: {v}"]
        return cmd

    def run(self, url: str, headers: dict[str, str], seconds: int) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="ruta-wrk-") as tmp:
            script = Path(tmp) / "summary.lua"
            script.write_text(WRK_LUA)
            proc = subprocess.Popen(self.command(url, headers, seconds, script),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            STARTED.append(proc)
            try:
                out, err = proc.communicate(timeout=seconds + 60)
            except subprocess.TimeoutExpired:
                raise BenchError(f"load generator did not finish in {seconds + 60}s") from None
            finally:
                kill_group(proc, timeout=5)
        if proc.returncode != 0:
            raise BenchError(f"load generator failed ({proc.returncode}): {err.decode()[-2000:]}")
        text = out.decode()
        if self.kind == "wrk":
            return wrk_summary(text)
        return dict(json.loads(text.strip().splitlines()[-1]))


def check_url(url: str, headers: dict[str, str], expect: str | None) -> None:
    """One GET before the load: 200, with ``expect`` in its body (when given)."""
    req = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            body = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raise BenchError(f"GET {url} answered {exc.code}: {exc.read()[:500]!r}") from None
    if status != 200 or (expect is not None and expect not in body):
        raise BenchError(f"GET {url} answered {status} without {expect!r}: {body[:500]}")
