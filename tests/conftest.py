"""Test fixtures: real databases (SQLite files, or PostgreSQL with RUTA_TEST_DATABASE=postgresql),
migrated once per session; each test runs inside an outer transaction rolled back at its end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.identity.keys import KeyStore, ensure_signing_key
from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.support import events as event_contract
from tests.support.contract import ContractState, contract_client
from tests.support.databases import BACKEND, IS_POSTGRES, PG_URL, TempDatabases
from tests.support.tokens import TokenFactory, make_token_factory


def pytest_report_header() -> str:
    return f"ruta test database: {BACKEND}" + (f" ({PG_URL})" if IS_POSTGRES else "")


def pytest_configure(config: pytest.Config) -> None:
    event_contract.install()


@pytest.fixture(autouse=True)
def events_follow_their_schemas() -> Iterator[None]:
    """Every event a test produces, reads from the feed or receives by webhook matches its
    published schema (tests/support/events.py)."""
    before = len(event_contract.VIOLATIONS)
    yield
    new = event_contract.VIOLATIONS[before:]
    assert not new, "events off their published schema:\n" + "\n".join(new)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The catalogue covers exactly the types the suite saw emitted (see
    tests/support/events.py); under xdist each worker hands its set to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["event_types_seen"] = sorted(event_contract.SEEN)
        return
    event_contract.finish(session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    event_contract.SEEN.update(node.workeroutput.get("event_types_seen", []))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (RUTA_TEST_DATABASE=postgresql)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Requests of tests marked ``invalid_request`` are bad on purpose: only their responses
    are held to the contract (tests/support/contract.py)."""
    ContractState.check_requests = item.get_closest_marker("invalid_request") is None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    calls = [r for key in ("passed", "failed", "skipped")
             for r in terminalreporter.stats.get(key, [])
             if getattr(r, "when", "") == "call" and "invalid_request" in r.keywords]
    terminalreporter.write_line(
        f"contract: requests not validated in {len(calls)} tests marked invalid_request")


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
    """The gateway app over ASGI; every exchange is checked against its /openapi.json."""
    async with contract_client(app) as c:
        yield c


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


