"""Alembic, driven from code: one environment per database under ``migrations/<name>``.

Separate environments (rather than branches of one) because each service owns its database:
its migrations run against its URL only, in its own container, on its own schedule.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import create_engine, ensure_sqlite_folder

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(name: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR / name))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["ruta_database"] = name
    return cfg


def configure_context(context: Any, connection: Connection, metadata: list[MetaData]) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=False,
    )


def run_env(context: Any, metadata: list[MetaData]) -> None:
    """Body of every ``env.py``: use the caller's connection, or open one from the URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        configure_context(context, connection, metadata)
        with context.begin_transaction():
            context.run_migrations()
        return

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:  # plain `alembic -n <name>`: the URL comes from the environment
        from shared.settings import Settings

        url = Settings().database_url(context.config.config_ini_section)

    async def run() -> None:
        engine = create_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: _offline_free(context, c, metadata))
        await engine.dispose()

    asyncio.run(run())


def _offline_free(context: Any, connection: Connection, metadata: list[MetaData]) -> None:
    configure_context(context, connection, metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run(conn: AsyncConnection, name: str, url: str, action: str, revision: str) -> None:
    def go(sync_conn: Connection) -> None:
        cfg = alembic_config(name, url)
        cfg.attributes["connection"] = sync_conn
        getattr(command, action)(cfg, revision)

    await conn.run_sync(go)


async def upgrade(name: str, url: str, revision: str = "head") -> None:
    ensure_sqlite_folder(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            await _run(conn, name, url, "upgrade", revision)
    finally:
        await engine.dispose()


async def downgrade(name: str, url: str, revision: str = "base") -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            await _run(conn, name, url, "downgrade", revision)
    finally:
        await engine.dispose()


async def schema_drift(url: str, metadata: list[MetaData]) -> list[Any]:
    """Differences between the models and the migrated database (empty when they agree)."""
    from alembic.autogenerate import compare_metadata

    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Connection) -> list[Any]:
                ctx = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "target_metadata": metadata}
                )
                return list(compare_metadata(ctx, metadata))  # type: ignore[arg-type]

            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


async def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if it does not exist yet."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "postgresql" or not u.database:
        return
    import asyncpg

    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
        password=u.password, database="postgres",
    )
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", u.database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()
