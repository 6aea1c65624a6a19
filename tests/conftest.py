"""Test fixtures: real databases (SQLite files, or PostgreSQL with RUTA_TEST_DATABASE=postgresql),
migrated once per session; each test runs inside an outer transaction rolled back at its end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.edge.policy import SCOPES_BY_ROLE
from gateway.identity.keys import KeyStore, ensure_signing_key
from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.identity import Identity, Role
from shared.settings import DATABASES, Settings

# Tests drive the event relay and the webhook worker themselves.
os.environ.setdefault("RUTA_BACKGROUND_TASKS", "false")
BACKEND = os.environ.get("RUTA_TEST_DATABASE", "sqlite")
PG_URL = os.environ.get("RUTA_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
IS_POSTGRES = BACKEND == "postgresql"

if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"RUTA_TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")


def pytest_report_header() -> str:
    return f"ruta test database: {BACKEND}" + (f" ({PG_URL})" if IS_POSTGRES else "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (RUTA_TEST_DATABASE=postgresql)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


class TempDatabases:
    """Throw-away databases for one purpose (the suite, a migration test...)."""

    def __init__(self, base_dir: Path, tag: str) -> None:
        self.tag = f"ruta_t{os.getpid()}_{tag}_{uuid.uuid4().hex[:6]}"
        self.base_dir = base_dir
        self.urls = {
            name: (f"{PG_URL.rstrip('/')}/{self.tag}_{name}" if IS_POSTGRES
                   else f"sqlite+aiosqlite:///{base_dir / self.tag}_{name}.db")
            for name in DATABASES
        }

    async def create(self) -> dict[str, str]:
        if IS_POSTGRES:
            from shared.migrate import ensure_postgres_database

            for url in self.urls.values():
                await ensure_postgres_database(url)  # fails loudly if PostgreSQL is down
        return self.urls

    async def drop(self) -> None:
        if not IS_POSTGRES:
            return
        import asyncpg
        from sqlalchemy.engine import make_url

        u = make_url(PG_URL)
        conn = await asyncpg.connect(host=u.host, port=u.port or 5432,
                                     user=u.username or "postgres", password=u.password,
                                     database="postgres")
        try:
            for url in self.urls.values():
                name = make_url(url).database
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
async def database_urls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    from ruta.distributed import prepare_databases

    temp = TempDatabases(tmp_path_factory.mktemp("db"), "suite")
    urls = await temp.create()
    try:
        await prepare_databases(urls)
        yield urls
    finally:
        await temp.drop()


@pytest.fixture(scope="session")
async def root_dbs(database_urls: dict[str, str]) -> AsyncIterator[dict[str, Database]]:
    dbs = {name: Database(url, pool_size=5) for name, url in database_urls.items()}
    yield dbs
    for db in dbs.values():
        await db.dispose()


@pytest.fixture
async def dbs(root_dbs: dict[str, Database]) -> AsyncIterator[dict[str, Database]]:
    """Each database bound to one connection whose outer transaction is rolled back."""
    async with AsyncExitStack() as stack:
        bound = {}
        for name, db in root_dbs.items():
            conn = await stack.enter_async_context(db.engine.connect())
            trans = await conn.begin()
            stack.push_async_callback(trans.rollback)
            bound[name] = db.bound_to(conn)
        yield bound


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, log_level="DEBUG")


@pytest.fixture
async def app(settings: Settings, dbs: dict[str, Database]) -> AsyncIterator[FastAPI]:
    application = create_embedded_app(settings, dbs)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ruta.test") as c:
        yield c


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
async def token_keys(root_dbs: dict[str, Database]) -> KeyStore:
    """The gateway's signing key, made once in the suite's (committed) gateway database."""
    settings = Settings()
    await ensure_signing_key(root_dbs["gateway"], settings)
    keys = KeyStore(root_dbs["gateway"], settings)
    await keys.refresh(force=True)
    return keys


@pytest.fixture
def auth(token_keys: KeyStore) -> TokenFactory:
    """``auth(role, org=..., regions=[...])`` → headers with a bearer token for that caller,
    signed with the gateway's own key (people: no scopes; machine clients: their role's)."""
    return make_token_factory(token_keys)


def make_token_factory(token_keys: KeyStore) -> TokenFactory:
    def make(role: str = "caseworker", org: str | None = "ong-lima",
             regions: list[str] | None = None, permissions: list[str] | None = None,
             subject: str | None = None, scopes: list[str] | None = None,
             **extra: Any) -> dict[str, str]:
        r = Role(role)
        human = r in (Role.CASEWORKER, Role.COORDINATOR)
        granted = scopes if scopes is not None else sorted(SCOPES_BY_ROLE.get(r, ()))
        identity = Identity(
            subject=subject or f"test-{role}-{org}", role=r, organisation_id=org,
            regions=frozenset(["PE-LMA", "PE-CAL"] if regions is None else regions),
            permissions=frozenset(permissions or ()), kind="user" if human else "client",
            scopes=None if human else frozenset(granted))
        token = token_keys.mint(identity, scopes=[] if human else granted)
        return {"Authorization": f"Bearer {token}", **extra}

    return make


def profile_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_names": "María José", "first_surname": "Pérez", "second_surname": "Rodríguez",
        "birth_date": "1990-04-12", "sex": "female", "nationality": "VEN",
        "population_type": "migrant", "region": "PE-LMA",
    }
    body.update(overrides)
    return body
