"""Shared plumbing of the proof targets (bench/load.py, bench/fuzz.py, bench/faults.py):
throw-away databases, an embedded server process, tokens for every role, peak memory.

Reuses bench/smoke.py's process handling (``Server``, ``kill_everything``) and
ruta/distributed.py's ``DistributedSystem`` / ``prepare_databases``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for p in (str(ROOT), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

DEFAULT_PG_URL = os.environ.get("RUTA_BENCH_PG_URL",
                                "postgresql+asyncpg://postgres@127.0.0.1:5432")

# Callers of every role, as the tests use them (tests/conftest.py make_token_factory).
ROLE_CALLERS: dict[str, dict[str, Any]] = {
    "caseworker": {"org": "ong-lima", "regions": ["PE-LMA", "PE-CAL"]},
    "coordinator": {"org": "ong-lima", "regions": ["PE-LMA", "PE-CAL"]},
    "ngo_partner": {"org": "ong-lima", "regions": ["PE-LMA", "PE-CAL"]},
    "provider": {"org": "mtpe-empleo", "regions": ["PE-LMA", "PE-CAL"]},
    "ministry_system": {"org": "mtpe-empleo", "regions": ["PE-LMA", "PE-CAL"]},
    "admin": {"org": None, "regions": []},
}


def clean_environ() -> None:
    """Servers started here and tokens minted here must agree on secrets: both use the
    development defaults, whatever RUTA_* this shell has."""
    for key in [k for k in os.environ if k.startswith("RUTA_")]:
        del os.environ[key]


def identity_for(role: str, subject: str | None = None, **overrides: Any) -> Any:
    from gateway.edge.policy import SCOPES_BY_ROLE
    from shared.identity import Identity, Role

    r = Role(role)
    spec = {**ROLE_CALLERS[role], **overrides}
    human = r in (Role.CASEWORKER, Role.COORDINATOR)
    return Identity(subject=subject or f"proof-{role}", role=r,
                    organisation_id=spec["org"], regions=frozenset(spec["regions"]),
                    kind="user" if human else "client",
                    scopes=None if human else frozenset(SCOPES_BY_ROLE.get(r, ())))


async def mint_tokens(gateway_url: str, identities: dict[str, Any], ttl: int = 6 * 3600
                      ) -> dict[str, str]:
    """Bearer tokens signed with the gateway's own key, in the gateway database given."""
    from gateway.identity.devtokens import mint_dev_token
    from shared.db import Database
    from shared.settings import Settings

    settings = Settings()
    db = Database(gateway_url)
    try:
        return {name: await mint_dev_token(settings, ident, ttl=ttl, database=db)
                for name, ident in identities.items()}
    finally:
        await db.dispose()


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be reached: the benchmark says so and exits 2 (not a failure of
    the system under test)."""


def dsn(url: str) -> str:
    """asyncpg's form of a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def named_urls(pg_url: str, prefix: str) -> dict[str, str]:
    """The four databases ``<prefix>_<name>`` a benchmark keeps across runs (--keep)."""
    from shared.settings import DATABASES

    return {n: f"{pg_url.rstrip('/')}/{prefix}_{n}" for n in DATABASES}


async def drop_named(pg_url: str, prefix: str) -> None:
    import asyncpg

    try:
        conn = await asyncio.wait_for(
            asyncpg.connect(dsn(pg_url.rstrip("/") + "/postgres")), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise PostgresUnavailable(f"{type(exc).__name__}: {exc}") from None
    try:
        for url in named_urls(pg_url, prefix).values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


class Databases:
    """Throw-away databases of the four kinds: SQLite files in a temp dir, or PostgreSQL
    databases ``<prefix>_<name>`` dropped at the end."""

    def __init__(self, backend: str, pg_url: str = DEFAULT_PG_URL, prefix: str | None = None
                 ) -> None:
        from shared.settings import DATABASES

        self.backend = backend
        self.pg_url = pg_url.rstrip("/")
        self.tmp = tempfile.mkdtemp(prefix="ruta-proof-")
        tag = prefix or f"ruta_proof_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        if backend == "postgresql":
            self.urls = {n: f"{self.pg_url}/{tag}_{n}" for n in DATABASES}
        else:
            self.urls = {n: f"sqlite+aiosqlite:///{self.tmp}/{n}.db" for n in DATABASES}

    def env(self) -> dict[str, str]:
        return {f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in self.urls.items()}

    def create(self) -> dict[str, str]:
        asyncio.run(self.acreate())
        return self.urls

    async def acreate(self) -> dict[str, str]:
        from ruta.distributed import prepare_databases

        await prepare_databases(self.urls)
        return self.urls

    def drop(self) -> None:
        if self.backend != "postgresql":
            return

        async def go() -> None:
            import asyncpg
            from sqlalchemy.engine import make_url

            u = make_url(self.pg_url)
            conn = await asyncpg.connect(host=u.host, port=u.port or 5432,
                                         user=u.username or "postgres", password=u.password,
                                         database="postgres")
            try:
                for url in self.urls.values():
                    name = make_url(url).database
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        try:
            asyncio.run(go())
        except Exception as exc:  # report, keep going
            print(f"could not drop the databases: {exc}", file=sys.stderr)

    def drop_in_thread(self) -> None:
        """``drop`` from inside a running event loop."""
        import threading

        t = threading.Thread(target=self.drop)
        t.start()
        t.join()


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of one process, MB; 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def group_pids(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    out.append(int(entry))
            except OSError:
                continue
    return out


def group_peak_rss_mb(pgid: int) -> float:
    return max((peak_rss_mb(p) for p in group_pids(pgid)), default=0.0)


def pg_restart_command() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


def pg_start_command() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]


def pg_is_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"],
                          check=False).returncode == 0


# --- an embedded server for the database benchmarks (bench/registry.py, bench/reports.py) ---

_STARTED: list[subprocess.Popen[bytes]] = []


def start_embedded(urls: dict[str, str], port: int, log: Path, extra_env: dict[str, str]
                   ) -> subprocess.Popen[bytes]:
    """``ruta.asgi:embedded`` on ``port`` against ``urls``, in its own process group."""
    env = {**os.environ, "RUTA_LOG_LEVEL": "WARNING", **extra_env}
    env.update({f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in urls.items()})
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "ruta.asgi:embedded", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    _STARTED.append(proc)
    return proc


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import contextlib
    import time

    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the server exited; see its log")
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError("the server did not become ready")


def stop_all() -> None:
    import contextlib
    import signal

    for proc in _STARTED:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
