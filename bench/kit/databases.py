"""Throw-away databases for the benchmarks: PostgreSQL databases ``<prefix>_<name>`` (one per
kind: gateway, registry, referrals, credentials) created, migrated and dropped, or SQLite
files in a temporary directory; and the server-side statistics a run reads about them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from kit import app
from kit.processes import BenchError, kill_everything

PG_URL_ENV = "RUTA_BENCH_PG_URL"
LOCAL_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432"
T = TypeVar("T")


class PostgresUnavailable(BenchError):
    """PostgreSQL could not be reached: the benchmark says so and exits 2 (not a failure of
    the system under test)."""


def add_pg_url_option(parser: argparse.ArgumentParser) -> None:
    """``--pg-url``: the PostgreSQL server, no database (default: $RUTA_BENCH_PG_URL, else
    the local server)."""
    parser.add_argument("--pg-url", default=os.environ.get(PG_URL_ENV, LOCAL_PG_URL),
                        help=f"PostgreSQL server URL, no database (env {PG_URL_ENV})")


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """asyncpg's form of a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def named_urls(pg_url: str, prefix: str) -> dict[str, str]:
    """The four databases ``<prefix>_<name>`` of one run (or kept across runs: --keep)."""
    return {n: f"{pg_url.rstrip('/')}/{prefix}_{n}" for n in app.DATABASES}


def database_names(urls: dict[str, str]) -> list[str]:
    return [u.rsplit("/", 1)[1] for u in urls.values()]


def url_env(urls: dict[str, str]) -> dict[str, str]:
    """The environment that points a server (``RUTA_<NAME>_DATABASE_URL``) at ``urls``."""
    return {f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in urls.items()}


async def admin_connect(pg_url: str) -> Any:
    """A connection to the server's ``postgres`` database, or ``PostgresUnavailable``."""
    import asyncpg

    dsn = asyncpg_dsn(pg_url.rstrip("/") + "/postgres")
    try:
        return await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise PostgresUnavailable(f"{type(exc).__name__}: {exc}") from None


async def check_reachable(pg_url: str) -> None:
    conn = await admin_connect(pg_url)
    await conn.close()


async def drop_databases(pg_url: str, names: list[str]) -> None:
    conn = await admin_connect(pg_url)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def drop_named(pg_url: str, prefix: str) -> None:
    await drop_databases(pg_url, database_names(named_urls(pg_url, prefix)))


async def refuse_if_in_use(pg_url: str, names: list[str]) -> None:
    """Setting up drops these databases: not while something else is connected to them."""
    conn = await admin_connect(pg_url)
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


def pg_sessions(pg_url: str, names: list[str]) -> int | None:
    """Sessions ever opened on the bench databases (PostgreSQL 14+): connection churn."""

    async def go() -> int | None:
        conn = await admin_connect(pg_url)
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


def run_on_named(measure: Coroutine[Any, Any, T], pg_url: str, prefix: str, *, keep: bool
                 ) -> T | None:
    """Runs ``measure`` (which creates databases ``<prefix>_*``), then stops every process
    and drops those databases unless ``keep``. None when PostgreSQL is unreachable (said on
    stderr: the caller exits 2)."""
    try:
        return asyncio.run(measure)
    except PostgresUnavailable as exc:
        print(f"PostgreSQL unreachable at {pg_url}: {exc}", file=sys.stderr)
        return None
    finally:
        kill_everything()
        if not keep:
            with contextlib.suppress(PostgresUnavailable):
                asyncio.run(drop_named(pg_url, prefix))


class Databases:
    """Throw-away databases of the four kinds: SQLite files in a temp dir, or PostgreSQL
    databases ``<prefix>_<name>`` dropped at the end."""

    def __init__(self, backend: str, pg_url: str = LOCAL_PG_URL, prefix: str | None = None
                 ) -> None:
        self.backend = backend
        self.pg_url = pg_url.rstrip("/")
        self.tmp = tempfile.mkdtemp(prefix="ruta-proof-")
        tag = prefix or f"ruta_proof_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        if backend == "postgresql":
            self.urls = named_urls(self.pg_url, tag)
        else:
            self.urls = {n: f"sqlite+aiosqlite:///{self.tmp}/{n}.db" for n in app.DATABASES}

    def env(self) -> dict[str, str]:
        return url_env(self.urls)

    def create(self) -> dict[str, str]:
        asyncio.run(self.acreate())
        return self.urls

    async def acreate(self) -> dict[str, str]:
        await app.prepare_databases(self.urls)
        return self.urls

    def drop(self) -> None:
        if self.backend != "postgresql":
            return
        try:
            asyncio.run(drop_databases(self.pg_url, database_names(self.urls)))
        except Exception as exc:  # report, keep going
            print(f"could not drop the databases: {exc}", file=sys.stderr)

    def drop_in_thread(self) -> None:
        """``drop`` from inside a running event loop."""
        t = threading.Thread(target=self.drop)
        t.start()
        t.join()


def seq_scans(plan: Any) -> list[str]:
    """Every relation read by a Seq Scan anywhere in an EXPLAIN (FORMAT JSON) plan."""
    found: list[str] = []
    if isinstance(plan, dict):
        if plan.get("Node Type") == "Seq Scan":
            found.append(str(plan.get("Relation Name")))
        for v in plan.values():
            found += seq_scans(v)
    elif isinstance(plan, list):
        for v in plan:
            found += seq_scans(v)
    return found
