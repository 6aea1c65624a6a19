"""Smoke benchmark: what the gateway costs, against the floors it cannot beat.

    make bench-smoke                      # or: .venv/bin/python bench/smoke.py [--duration 8]

One run on one machine, load generator on the same cores (wrk -t2 -c50 by default):

  A  bare FastAPI GET /ping (bench/refapps.py)                         reference for everything
  B  bare FastAPI + raw asyncpg PK read of one profile                 floor for any DB read
     ... and the distributed gateway in front of B                     the hop over the floor
  E  GET /v1/profiles/{id} through the embedded shape (one process)    ratio to B (and A)
  D  the distributed shape: registry called directly (signed identity header) vs the same
     read through the gateway; the hop must keep >= 40% of direct throughput

plus micro-benchmarks: the identity assertion (HMAC sign + verify), python-jose HS256 verify
and RS256 sign, and the gateway's TokenVerifier with and without its cache. PostgreSQL
databases ``<prefix>_*`` are created, filled with synthetic profiles and dropped at the end.
Per measurement it also reports CPU ms per request of each process, PostgreSQL and "other"
(anything else on the machine: a busy machine is flagged rather than silently measured).
Results also go to bench/results/smoke-<timestamp>.json, server logs next to them.

Exit codes: 0 done (hop FAIL included, unless --strict), 1 hop FAIL with --strict or a
measurement failed, 2 PostgreSQL unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432"
PG_URL_ENV = "RUTA_BENCH_PG_URL"
HOP_THRESHOLD = 0.40
ORG, REGION = "ong-lima", "PE-LMA"

# Every process (and load generator) started here, so that all of them die with us.
_STARTED: list[subprocess.Popen[bytes]] = []
_HZ = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    pass


class PostgresUnavailable(BenchError):
    pass


# --------------------------------------------------------------------------- processes
def _kill_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    else:  # the leader is gone; stragglers in its group must not outlive the run
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ValueError):
        _STARTED.remove(proc)


def kill_everything() -> None:
    for proc in list(_STARTED):
        _kill_group(proc, timeout=5)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Cleanup that SIGINT / SIGTERM / the time budget cannot cut short (it is bounded)."""
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def tracked_system_class() -> Any:
    """``DistributedSystem`` whose processes are also in ``_STARTED``, from the moment each
    one is spawned: an interrupt during start-up or shutdown still kills them."""
    from ruta.distributed import DistributedSystem

    class _Tracked(DistributedSystem):
        def start_one(self, name: str) -> None:
            try:
                super().start_one(name)
            finally:
                proc = self.procs.get(name)
                if proc is not None and proc not in _STARTED:
                    _STARTED.append(proc)

    return _Tracked


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    env.update(extra)
    return env


class Server:
    """One uvicorn process (own session, so its whole group can be killed)."""

    def __init__(self, name: str, target: str, env: dict[str, str], log_dir: Path,
                 app_dir: Path | None = None) -> None:
        from ruta.distributed import free_port

        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
               "--port", str(self.port), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--workers", "1", "--log-level", "warning"]
        if app_dir is not None:
            cmd[3:3] = ["--app-dir", str(app_dir)]
        self.cmd = cmd
        self.env = env
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        from ruta.distributed import wait_healthy

        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        _STARTED.append(self.proc)
        try:
            wait_healthy(self.url, timeout=30, proc=self.proc)
        except Exception as exc:
            self.__exit__(None, None, None)
            raise BenchError(f"{self.name} did not start: {exc}; see {self.log_path}") from exc
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            _kill_group(self.proc)


def _proc_stats() -> Iterator[tuple[int, bytes, list[bytes]]]:
    """(pid, comm, fields after the comm) of every live process (Linux /proc)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        close = raw.rindex(b")")
        # after "pid (comm) ": state ppid pgrp ... utime(11) stime(12) cutime(13) cstime(14)
        yield int(entry), raw[raw.index(b"(") + 1:close], raw[close + 2:].split()


def _ticks(fields: list[bytes], children: bool = False) -> int:
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if children else 0)


def system_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (Linux /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU of every live process in a process group."""
    return sum(_ticks(f) for _, _, f in _proc_stats() if int(f[2]) == pgid) / _HZ


class PostgresMeter:
    """CPU of the local PostgreSQL backends serving our databases (0 when the server runs
    elsewhere), sampled every 0.2 s in a thread so that the backends of connections closed
    during the run still count (up to their last sample). Other people's sessions on the
    same server are not counted; they show up as "other"."""

    def __init__(self, databases: list[str], interval: float = 0.2) -> None:
        self._names = [b" " + d.encode() + b" " for d in databases]
        self._interval = interval
        self._base: dict[int, int] = {}
        self._seen: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> dict[int, int]:
        out = {}
        for pid, comm, fields in _proc_stats():
            if comm != b"postgres":
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    title = f.read()
            except OSError:
                continue
            # a backend's title: "postgres: 15/main: user database host(port) state"
            if title.startswith(b"postgres: ") and any(n in title for n in self._names):
                out[pid] = _ticks(fields)
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._seen.update(self._sample())

    def __enter__(self) -> PostgresMeter:
        self._base = self._sample()
        self._seen = dict(self._base)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._seen.update(self._sample())

    @property
    def seconds(self) -> float:
        return sum(t - self._base.get(pid, 0) for pid, t in self._seen.items()) / _HZ


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


async def _admin_connect(pg_url: str) -> Any:
    import asyncpg

    dsn = asyncpg_dsn(pg_url.rstrip("/") + "/postgres")
    try:
        return await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise PostgresUnavailable(f"{type(exc).__name__}: {exc}") from None


async def _admin_check(pg_url: str) -> None:
    conn = await _admin_connect(pg_url)
    await conn.close()


def pg_sessions(pg_url: str, names: list[str]) -> int | None:
    """Sessions ever opened on the bench databases (PostgreSQL 14+): connection churn."""

    async def go() -> int | None:
        conn = await _admin_connect(pg_url)
        try:
            value = await conn.fetchval(
                "SELECT sum(sessions) FROM pg_stat_database WHERE datname = ANY($1::text[])",
                names)
            return None if value is None else int(value)
        finally:
            await conn.close()

    try:
        return asyncio.run(go())
    except Exception:  # statistics are a nicety: older servers lack the column
        return None


async def refuse_if_in_use(pg_url: str, names: list[str]) -> None:
    """Setting up drops these databases: not while something else is connected to them."""
    conn = await _admin_connect(pg_url)
    try:
        busy = await conn.fetch(
            "SELECT datname, count(*) AS n FROM pg_stat_activity"
            " WHERE datname = ANY($1::text[]) GROUP BY datname", names)
    finally:
        await conn.close()
    if busy:
        used = ", ".join(f"{r['datname']} ({r['n']} connections)" for r in busy)
        raise BenchError(f"databases in use: {used}. Another benchmark running? Wait for it "
                         "or pass --db-prefix")


async def drop_databases(pg_url: str, names: list[str]) -> None:
    conn = await _admin_connect(pg_url)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _filler(data_type: str, now: dt.datetime) -> Any:
    """A neutral value for a NOT NULL column this script does not know (the schema grows)."""
    if data_type in ("integer", "bigint", "smallint", "numeric", "double precision", "real"):
        return 0
    if data_type == "boolean":
        return False
    if data_type == "date":
        return now.date()
    if data_type.startswith("timestamp"):
        return now
    if data_type in ("json", "jsonb"):
        return "{}"
    if data_type == "uuid":
        return uuid.uuid4()
    return ""


async def setup_databases(pg_url: str, urls: dict[str, str], n_profiles: int) -> list[str]:
    """Create + migrate the databases, COPY synthetic profiles; returns their ids.

    The columns come from the migrated table itself: the ones a profile read needs get
    realistic values, any other NOT NULL column without a default a neutral one.
    """
    import asyncpg

    from ruta.distributed import prepare_databases

    await drop_databases(pg_url, [u.rsplit("/", 1)[1] for u in urls.values()])
    await asyncio.wait_for(prepare_databases(urls), timeout=180)
    rng = random.Random(1)
    now = dt.datetime.now(dt.UTC)
    given = ["María José", "José Gregorio", "Yuleisy", "Andrés Eloy", "Daniela", "Luis"]
    surnames = ["Pérez", "Hernández", "Briceño", "Peña", "Rodríguez", "Márquez"]

    def profile(pid: str) -> dict[str, Any]:
        names = (rng.choice(given), rng.choice(surnames), rng.choice(surnames))
        return {
            "id": pid, "organisation_id": ORG, "given_names": names[0],
            "first_surname": names[1], "second_surname": names[2],
            "birth_date": dt.date(1960 + rng.randrange(45), 1 + rng.randrange(12),
                                  1 + rng.randrange(28)),
            "sex": rng.choice(["female", "male"]), "nationality": "VEN",
            "population_type": rng.choice(["migrant", "refugee"]), "country": "PE",
            "region": REGION, "status": "active", "created_by": "bench",
            "created_at": now, "updated_at": now, "version": 1,
            "search_key": " ".join(names).lower(),
        }

    conn = await asyncpg.connect(asyncpg_dsn(urls["registry"]))
    try:
        table = await conn.fetch(
            "SELECT column_name, is_nullable, column_default, data_type"
            " FROM information_schema.columns WHERE table_name = 'profiles'"
            " AND table_schema = current_schema() ORDER BY ordinal_position")
        if not table:
            raise BenchError("the registry database has no profiles table after migrating")
        sample = profile("x")
        columns = [c["column_name"] for c in table if c["column_name"] in sample or (
            c["is_nullable"] == "NO" and c["column_default"] is None)]
        fill = {c["column_name"]: _filler(c["data_type"], now) for c in table
                if c["column_name"] not in sample}
        ids = [str(uuid.uuid4()) for _ in range(n_profiles)]
        records = []
        for pid in ids:
            values = {**fill, **profile(pid)}
            records.append(tuple(values[c] for c in columns))
        await conn.copy_records_to_table("profiles", records=records, columns=columns)
        await conn.execute("ANALYZE profiles")
    finally:
        await conn.close()
    return ids


# --------------------------------------------------------------------------- load
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not (rps and p50 and p99 and total):
        raise BenchError("could not parse wrk output:\n" + out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": int(total.group(1)),
        "seconds": _ms(total.group(2), total.group(3)) / 1000,
        "requests_per_s": float(rps.group(1)),
        "p50_ms": _ms(*p50.groups()),
        "p99_ms": _ms(*p99.groups()),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": sum(int(x) for x in sock.groups()) if sock else 0,
    }


class LoadGenerator:
    def __init__(self, kind: str, threads: int, connections: int) -> None:
        self.kind = kind
        self.threads = threads
        self.connections = connections

    @classmethod
    def choose(cls, wanted: str, threads: int, connections: int) -> LoadGenerator:
        if wanted in ("auto", "wrk") and shutil.which("wrk") is None:
            print("wrk not found; trying `apt-get install -y wrk` once...", flush=True)
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(["apt-get", "install", "-y", "wrk"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=180, check=False)
        if wanted == "wrk" and shutil.which("wrk") is None:
            raise BenchError("wrk is not installed and could not be installed")
        kind = "wrk" if wanted != "aiohttp" and shutil.which("wrk") else "aiohttp"
        if kind == "aiohttp":
            print("load generator: bench/loadgen.py (aiohttp) — slower than wrk; compare "
                  "ratios, not absolute figures", flush=True)
        return cls(kind, threads, connections)

    def describe(self) -> str:
        if self.kind == "wrk":
            version = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                                     check=False).stdout.splitlines()
            name = version[0].split(" Copyright")[0] if version else "wrk"
            return f"{name} -t{self.threads} -c{self.connections} --latency"
        return f"bench/loadgen.py (aiohttp) processes={self.threads} c={self.connections}"

    def command(self, url: str, headers: dict[str, str], seconds: int) -> list[str]:
        if self.kind == "wrk":
            cmd = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
                   "--latency", "--timeout", "10s"]
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
        proc = subprocess.Popen(self.command(url, headers, seconds), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        _STARTED.append(proc)
        try:
            out, err = proc.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            raise BenchError(f"load generator did not finish in {seconds + 60}s") from None
        finally:
            _kill_group(proc, timeout=5)
        if proc.returncode != 0:
            raise BenchError(f"load generator failed ({proc.returncode}): {err.decode()[-2000:]}")
        text = out.decode()
        if self.kind == "wrk":
            return parse_wrk(text)
        return dict(json.loads(text.strip().splitlines()[-1]))


def check_url(url: str, headers: dict[str, str], expect: str | None) -> None:
    req = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            body = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raise BenchError(f"GET {url} answered {exc.code}: {exc.read()[:500]!r}") from None
    if status != 200 or (expect is not None and expect not in body):
        raise BenchError(f"GET {url} answered {status} without {expect!r}: {body[:500]}")


def measure(label: str, load: LoadGenerator, url: str, headers: dict[str, str],
            args: argparse.Namespace, expect: str | None,
            cpu_groups: dict[str, int] | None = None) -> dict[str, Any]:
    check_url(url, headers, expect)
    if args.warmup > 0:
        load.run(url, headers, args.warmup)
    groups = cpu_groups or {}
    cpu_before = {n: group_cpu_seconds(pgid) for n, pgid in groups.items()}
    sessions_before = pg_sessions(args.pg_url, args.db_names)
    with PostgresMeter(args.db_names) as pg_meter:
        busy_before = system_busy_seconds()
        ru_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = load.run(url, headers, args.duration)
        ru_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy = system_busy_seconds() - busy_before
        cpu = {n: group_cpu_seconds(pgid) - cpu_before[n] for n, pgid in groups.items()}
    pg = pg_meter.seconds
    if pg > 0:
        cpu["postgres"] = pg
    sessions_after = pg_sessions(args.pg_url, args.db_names)
    if sessions_before is not None and sessions_after is not None:
        result["new_pg_sessions"] = sessions_after - sessions_before
    cpu["loadgen"] = (ru_after.ru_utime + ru_after.ru_stime
                      - ru_before.ru_utime - ru_before.ru_stime)
    # Whatever else ran meanwhile (this script, other people's tests...): a noisy machine
    # shows up here instead of silently in the figures.
    cpu["other"] = max(0.0, busy - sum(cpu.values()))
    requests = max(1, int(result["requests"]))
    result["cpu_ms_per_request"] = {n: round(s * 1000 / requests, 4) for n, s in cpu.items()}
    result["cpu_cores_busy"] = {n: round(s / result["seconds"], 2) for n, s in cpu.items()}
    result["label"] = label
    result["url"] = url
    bad = result["non_2xx"] + result["errors"]
    warn = f"  !! {result['non_2xx']} non-2xx, {result['errors']} socket errors" if bad else ""
    if result.get("new_pg_sessions"):
        warn += f"  ({result['new_pg_sessions']} new PostgreSQL connections)"
    if result["cpu_cores_busy"]["other"] > 0.15:
        warn += (f"  !! {result['cpu_cores_busy']['other']:.2f} cores used by other "
                 "processes: figures disturbed")
    print(f"  {label:<34} {result['requests_per_s']:>9.0f} req/s  p50 "
          f"{result['p50_ms']:>7.2f} ms  p99 {result['p99_ms']:>7.2f} ms{warn}", flush=True)
    return result


# --------------------------------------------------------------------------- micro
def _per_op_us(fn: Any, n: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


BENCH_SUBJECT = "bench-caseworker"
TOKEN_TTL = 6 * 3600  # outlives any run


def bench_identity(**extra: Any) -> Any:
    from shared.identity import Identity, Role

    return Identity(subject=BENCH_SUBJECT, role=Role.CASEWORKER, organisation_id=ORG,
                    regions=frozenset({REGION}), kind="user", **extra)


async def mint_bench_token(settings: Any, gateway_db_url: str) -> tuple[str, str]:
    """A caseworker's bearer token, with whichever token API this gateway has: the ES256
    development tokens (key in the gateway database) or the earlier HS256 ``mint_token``."""
    try:
        from gateway.identity.devtokens import mint_dev_token
    except ImportError:
        from gateway.auth import mint_token  # type: ignore[import-not-found,unused-ignore]

        from shared.identity import Role

        token = mint_token(settings, subject=BENCH_SUBJECT, role=Role.CASEWORKER,
                           organisation_id=ORG, regions=[REGION], ttl=TOKEN_TTL)
        return token, "gateway.auth.mint_token"
    from shared.db import Database

    db = Database(gateway_db_url)
    try:
        token = await mint_dev_token(settings, bench_identity(), ttl=TOKEN_TTL, database=db)
    finally:
        await db.dispose()
    return token, "gateway.identity.devtokens.mint_dev_token"


async def _gateway_verifier_us(settings: Any, token: str, gateway_db_url: str,
                               n: int = 2_000) -> tuple[float, float]:
    """The gateway's own TokenVerifier.verify, µs per call: cache bypassed, and cache hit."""
    import inspect

    closers: list[Any] = []
    try:
        from gateway.identity.keys import KeyStore
        from gateway.identity.tokens import TokenVerifier
        from shared.db import Database

        db = Database(gateway_db_url)
        closers.append(db.dispose)
        keys = KeyStore(db, settings)
        await keys.refresh(force=True)
        verifier: Any = TokenVerifier(settings, keys)
        closers.insert(0, verifier.close)
    except ImportError:
        from gateway.auth import TokenVerifier as OldVerifier  # type: ignore[import-not-found,unused-ignore]

        verifier = OldVerifier(settings)
    try:
        async def verify() -> None:
            result = verifier.verify(token)
            if inspect.isawaitable(result):
                await result

        async def timed(uncached: bool, count: int) -> float:
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(count):
                    if uncached:
                        verifier._cache.clear()  # bench only: force the signature check
                    await verify()
                best = min(best, time.perf_counter() - start)
            return best / count * 1e6

        await verify()
        return await timed(True, n), await timed(False, n * 10)
    finally:
        for close in closers:
            await close()


def micro_benchmarks(settings: Any, token: str, gateway_db_url: str) -> dict[str, Any]:
    from jose import jwt

    from shared.identity import AssertionSigner

    signer = AssertionSigner(settings.internal_secret, settings.identity_assertion_ttl_seconds)
    identity = bench_identity(request_id=uuid.uuid4().hex)
    signed = signer.sign(identity)

    def sign_verify(n: int) -> None:
        for _ in range(n):
            signer.verify(signer.sign(identity))

    def sign_only(n: int) -> None:
        for _ in range(n):
            signer.sign(identity)

    def verify_only(n: int) -> None:
        for _ in range(n):
            signer.verify(signed)

    # python-jose HS256 on its own, with the claims and checks of a real access token.
    secret = "bench-hs256-secret-" + "0" * 32
    now = int(time.time())
    claims = {"iss": "ruta-empleabilidad", "aud": "ruta-api", "sub": BENCH_SUBJECT,
              "iat": now, "nbf": now, "exp": now + TOKEN_TTL, "jti": uuid.uuid4().hex,
              "role": "caseworker", "org": ORG, "regions": [REGION], "permissions": [],
              "kind": "user"}
    hs_token = jwt.encode(claims, secret, algorithm="HS256")
    options = {"require_aud": True, "require_iat": True, "require_exp": True,
               "require_iss": True, "require_sub": True, "leeway": 30}

    def jose_hs256(n: int) -> None:
        for _ in range(n):
            jwt.get_unverified_header(hs_token)
            jwt.decode(hs_token, secret, algorithms=["HS256"], audience="ruta-api",
                       issuer="ruta-empleabilidad", options=options)

    # What per-request asymmetric signing of the assertion would cost instead of the HMAC.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jose import jwk

    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    rsa_key = jwk.construct(rsa_pem, algorithm="RS256")  # parsed once, as a server would

    def jose_rs256_sign(n: int) -> None:
        for _ in range(n):
            jwt.encode(claims, rsa_key, algorithm="RS256")

    uncached, cached = asyncio.run(_gateway_verifier_us(settings, token, gateway_db_url))
    return {
        "assertion_sign_verify_us": _per_op_us(sign_verify, 20_000),
        "assertion_sign_us": _per_op_us(sign_only, 20_000),
        "assertion_verify_us": _per_op_us(verify_only, 20_000),
        "jose_hs256_verify_us": _per_op_us(jose_hs256, 3_000),
        "jose_rs256_sign_us": _per_op_us(jose_rs256_sign, 200),
        "gateway_token_alg": str(jwt.get_unverified_header(token).get("alg")),
        "gateway_verifier_uncached_us": uncached,
        "gateway_verifier_cached_us": cached,
    }


# --------------------------------------------------------------------------- report
def _ratio(value: float, ref: float) -> float:
    return value / ref if ref else float("nan")


def print_summary(rows: list[dict[str, Any]], micro: dict[str, Any], hop: dict[str, Any],
                  load_desc: str, cmdline: str, code: str) -> None:
    print()
    print(f"summary — {load_desc}; {os.cpu_count()} CPUs shared by servers and load generator")
    print(f"command: {cmdline}   code: {code}")
    header = (f"{'measurement':<36}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}   {'ratio':<34}"
              f"cpu ms/req (process: ms)")
    print(header)
    print("-" * (len(header) + 24))
    for row in rows:
        cpu = ", ".join(f"{k} {v:.3f}" for k, v in row["cpu_ms_per_request"].items())
        print(f"{row['name']:<36}{row['requests_per_s']:>8.0f}{row['p50_ms']:>9.2f}"
              f"{row['p99_ms']:>9.2f}   {row['ratio_text']:<34}{cpu}")
    print(f"identity assertion sign+verify: {micro['assertion_sign_verify_us']:.1f} µs/op "
          f"(sign {micro['assertion_sign_us']:.1f}, verify {micro['assertion_verify_us']:.1f}); "
          f"python-jose HS256 verify: {micro['jose_hs256_verify_us']:.1f} µs/op; "
          f"python-jose RS256 sign: {micro['jose_rs256_sign_us']:.0f} µs/op")
    print(f"gateway TokenVerifier.verify ({micro['gateway_token_alg']} token): "
          f"{micro['gateway_verifier_uncached_us']:.1f} µs/op uncached, "
          f"{micro['gateway_verifier_cached_us']:.2f} µs/op from its cache")
    print(f"hop: gateway keeps {hop['ratio']:.2f} of direct registry throughput — "
          f"{'PASS' if hop['pass'] else 'FAIL'} (>= {HOP_THRESHOLD:.2f}); in front of the "
          f"raw floor (ref B) it keeps {hop['ratio_over_ref_b']:.2f}")


# --------------------------------------------------------------------------- main
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Gateway smoke benchmark (see module docstring).")
    p.add_argument("--duration", type=int, default=8, help="seconds per measurement (8)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each (2)")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--profiles", type=int, default=10_000, help="synthetic profiles (10000)")
    p.add_argument("--pg-url", default=os.environ.get(PG_URL_ENV, DEFAULT_PG_URL),
                   help=f"PostgreSQL server URL, no database (env {PG_URL_ENV})")
    p.add_argument("--db-prefix", default="ruta_bench")
    p.add_argument("--loadgen", choices=["auto", "wrk", "aiohttp"], default="auto")
    p.add_argument("--strict", action="store_true", help="exit 1 when the hop is under 40%%")
    p.add_argument("--keep-databases", action="store_true")
    args = p.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.connections < 1 or args.threads < 1:
        p.error("duration >= 1, warmup >= 0, connections >= 1, threads >= 1")
    return args


def _on_signal(signum: int, _frame: Any) -> None:
    if signum == signal.SIGALRM:
        raise TimeoutError("the benchmark exceeded its overall time budget")
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    # Tokens minted here and servers started here must agree on secrets: both use the
    # development defaults, whatever RUTA_* this shell happens to have.
    code = git_state()
    for key in [k for k in os.environ if k.startswith("RUTA_")]:
        del os.environ[key]
    from shared.identity import ASSERTION_HEADER, AssertionSigner
    from shared.settings import DATABASES, Settings

    settings = Settings()
    TrackedSystem = tracked_system_class()
    with contextlib.suppress(ImportError):  # this process's own logs (seeding) stay quiet
        from shared.logging import configure_logging

        configure_logging("WARNING", json=False)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = RESULTS / f"smoke-{stamp}-logs"
    cmdline = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    urls = {name: f"{args.pg_url.rstrip('/')}/{args.db_prefix}_{name}" for name in DATABASES}
    db_names = [u.rsplit("/", 1)[1] for u in urls.values()]
    args.db_names = db_names

    load = LoadGenerator.choose(args.loadgen, args.threads, args.connections)
    load_desc = load.describe()
    print(f"load generator: {load_desc}; {args.duration}s per measurement after "
          f"{args.warmup}s warm-up", flush=True)
    print(f"code: {code}", flush=True)

    before = system_busy_seconds()
    time.sleep(1.0)
    idle_busy = system_busy_seconds() - before
    if idle_busy > 0.2:
        print(f"WARNING: the machine is already busy ({idle_busy:.2f} cores before we start); "
              "figures will be disturbed", flush=True)

    results: dict[str, dict[str, Any]] = {}
    created = False
    try:
        try:
            asyncio.run(_admin_check(args.pg_url))
        except PostgresUnavailable as exc:
            print(f"PostgreSQL is not reachable at {args.pg_url} ({exc}).\n"
                  f"Start it, or point --pg-url / {PG_URL_ENV} at one "
                  "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432).", file=sys.stderr)
            return 2
        print(f"databases {', '.join(db_names)}: create, migrate, {args.profiles} "
              "profiles...", flush=True)
        asyncio.run(refuse_if_in_use(args.pg_url, db_names))
        created = True
        ids = asyncio.run(setup_databases(args.pg_url, urls, args.profiles))
        profile_id = ids[len(ids) // 2]
        path = f"/v1/profiles/{profile_id}"

        token, minted_by = asyncio.run(mint_bench_token(settings, urls["gateway"]))
        auth = {"Authorization": f"Bearer {token}"}
        print("micro-benchmarks (identity assertion, token verification)...", flush=True)
        micro = micro_benchmarks(settings, token, urls["gateway"])
        micro["token_minted_by"] = minted_by

        # Quiet logs; a read quota no benchmark reaches (the limiter still runs per request).
        quiet = {"RUTA_LOG_LEVEL": "WARNING", "RUTA_RATE_LIMITS": json.dumps(
            {"read": {"capacity": 1_000_000_000, "window_seconds": 1}})}
        db_env = {f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in urls.items()}

        print("A: bare FastAPI /ping", flush=True)
        with Server("ref-ping", "refapps:ping", base_env({}), log_dir, app_dir=BENCH) as s:
            results["ref_a"] = measure("bare /ping (ref A)", load, s.url + "/ping", {}, args,
                                       '"pong"', {"server": s.proc.pid})  # type: ignore[union-attr]

        print("B: bare FastAPI + raw asyncpg PK read; then a gateway in front of it", flush=True)
        ref_env = base_env({"RUTA_BENCH_REF_DSN": asyncpg_dsn(urls["registry"]),
                            "RUTA_BENCH_REF_POOL": str(settings.database_pool_size)})
        with Server("ref-pk", "refapps:pk_read", ref_env, log_dir, app_dir=BENCH) as s:
            results["ref_b"] = measure("raw asyncpg PK read (ref B)", load,
                                       f"{s.url}/profiles/{profile_id}", {}, args, profile_id,
                                       {"server": s.proc.pid})  # type: ignore[union-attr]
            # The hop with nothing slow behind it: the distributed gateway, its registry
            # upstream pointed at reference B.
            gw_env = base_env({**db_env, **quiet, "RUTA_REGISTRY_URL": s.url})
            with Server("gateway-over-b", "ruta.asgi:gateway", gw_env, log_dir) as g:
                results["over_b"] = measure(
                    "gateway in front of ref B", load, g.url + path, auth, args, profile_id,
                    {"gateway": g.proc.pid, "server": s.proc.pid})  # type: ignore[union-attr]

        print("E: embedded shape (ruta.asgi:embedded), PostgreSQL", flush=True)
        with Server("embedded", "ruta.asgi:embedded", base_env({**db_env, **quiet}),
                    log_dir) as s:
            results["embedded"] = measure("embedded gateway profile read", load, s.url + path,
                                          auth, args, profile_id,
                                          {"server": s.proc.pid})  # type: ignore[union-attr]

        print("D: distributed shape (ruta.distributed.DistributedSystem)", flush=True)
        system = TrackedSystem(urls, env=quiet, log_dir=log_dir / "distributed")
        with system.running():
            pgids = {"gateway": system.procs["gateway"].pid,
                     "registry": system.procs["registry"].pid}
            direct_signer = AssertionSigner(settings.internal_secret, TOKEN_TTL)
            assertion = direct_signer.sign(bench_identity()).decode()
            results["direct"] = measure("distributed: registry direct", load,
                                        system.url("registry") + path,
                                        {ASSERTION_HEADER: assertion}, args, profile_id, pgids)
            results["through"] = measure("distributed: through gateway", load,
                                         system.url("gateway") + path, auth, args, profile_id,
                                         pgids)
    finally:
        with shielded():  # a second Ctrl-C must not leave processes or databases behind
            kill_everything()
            if created and not args.keep_databases:
                try:
                    asyncio.run(asyncio.wait_for(drop_databases(args.pg_url, db_names), 60))
                except Exception as exc:  # report, but keep the figures
                    print(f"could not drop {db_names}: {exc}", file=sys.stderr)

    a = results["ref_a"]["requests_per_s"]
    b = results["ref_b"]["requests_per_s"]
    e = results["embedded"]["requests_per_s"]
    d = results["direct"]["requests_per_s"]
    g = results["through"]["requests_per_s"]
    hop_ratio = _ratio(g, d)
    hop = {"ratio": hop_ratio, "threshold": HOP_THRESHOLD, "pass": hop_ratio >= HOP_THRESHOLD}
    results["ref_a"].update(name="bare /ping (ref A)", ratio=1.0, ratio_text="1.00")
    results["ref_b"].update(name="raw asyncpg PK read (ref B)", ratio=1.0,
                            ratio_text=f"1.00 ({_ratio(b, a):.2f} of A)")
    results["embedded"].update(name="embedded gateway profile read", ratio=_ratio(e, b),
                               ratio_of_a=_ratio(e, a),
                               ratio_text=f"{_ratio(e, b):.2f} of B ({_ratio(e, a):.2f} of A)")
    results["direct"].update(name="distributed: registry direct", ratio=1.0,
                             ratio_of_b=_ratio(d, b),
                             ratio_text=f"1.00 ({_ratio(d, b):.2f} of B)")
    results["through"].update(
        name="distributed: through gateway", ratio=hop_ratio, ratio_of_b=_ratio(g, b),
        ratio_text=f"{hop_ratio:.2f} of direct  {'PASS' if hop['pass'] else 'FAIL'} (>=0.40)")
    ob = results["over_b"]["requests_per_s"]
    results["over_b"].update(name="gateway in front of ref B", ratio=_ratio(ob, b),
                             ratio_text=f"{_ratio(ob, b):.2f} of B (hop, fast upstream)")
    hop["ratio_over_ref_b"] = _ratio(ob, b)
    rows = [results[k] for k in ("ref_a", "ref_b", "over_b", "embedded", "direct", "through")]
    print_summary(rows, micro, hop, load_desc, cmdline, code)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"smoke-{stamp}.json"
    cpu_model = ""
    with contextlib.suppress(OSError):
        cpu_model = next((ln.split(":", 1)[1].strip() for ln in
                          Path("/proc/cpuinfo").read_text().splitlines()
                          if ln.startswith("model name")), "")
    out.write_text(json.dumps({
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "command": cmdline,
        "code": code,
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model,
                    "platform": platform.platform(), "python": platform.python_version()},
        "load_generator": load_desc,
        "params": {"duration_s": args.duration, "warmup_s": args.warmup,
                   "connections": args.connections, "threads": args.threads,
                   "profiles": args.profiles},
        "results": rows,
        "micro_us_per_op": micro,
        "hop": hop,
        "busy_cores_before_start": round(idle_busy, 2),
        "logs": str(log_dir.relative_to(ROOT)),
    }, indent=2, default=str) + "\n")
    print(f"results: {out.relative_to(ROOT)}")
    bad = [r["name"] for r in rows if r["non_2xx"] or r["errors"]]
    if bad:
        print(f"WARNING: non-2xx responses or socket errors in: {', '.join(bad)}",
              file=sys.stderr)
    if args.strict and (not hop["pass"] or bad):
        return 1
    return 0


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGINT, _on_signal)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGALRM, _on_signal)
    # Six measurements, each warm-up + run + start-up, plus database set-up and teardown.
    signal.alarm(6 * (args.duration + args.warmup + 45) + 240)
    code = 1
    try:
        code = run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", file=sys.stderr)
        code = 130
    except (BenchError, TimeoutError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        code = 1
    except Exception:
        import traceback

        traceback.print_exc()
        print("benchmark failed (unexpected error above); processes stopped, databases "
              "dropped", file=sys.stderr)
        code = 1
    finally:
        signal.alarm(0)
        with shielded():
            kill_everything()
    sys.exit(code)


if __name__ == "__main__":
    main()
