"""Issue 16, item 1 (outside security review): a write that fails in the database must not put
the person's data in any log line, nor in the answer. Before: on PostgreSQL the
``unhandled_error`` entry carried the traceback of the driver error — the statement's
parameters (``[parameters: ('Xiomarelis', ...)]``) and PostgreSQL's own text (``DETAIL: Failing
row contains (...)``, a trigger's message) — and uvicorn logged the same traceback again.

Failures are injected in the real databases (a trigger that raises with the row's values, a
CHECK constraint, a backend that dies mid-statement) and the gateway is served by a real
uvicorn with the production logging configuration, so every logger's output is read.
``make logcheck`` runs these on PostgreSQL and scans the whole log for the same markers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.errors import install_error_handlers
from shared.settings import Settings
from tests.support.logs import production_logs, run_sql, served
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

MARKED = {"given_names": "Xiomarelis", "first_surname": "Pumacahuanca",
          "second_surname": "Yaurivilca", "email": "xiomarelis.pumacahuanca@example.org",
          "phone": "+51987650123"}
MARKED_DOCUMENT = {"type": "ve_cedula", "number": "V-23.456.789", "verification": "seen"}
MARKERS = ("Xiomarelis", "Pumacahuanca", "Yaurivilca", "pumacahuanca@", "987650123",
           "23456789", "23.456.789")

# Each injection installs itself (committed: the app under test has its own connections)
# and only ever fires for the marked person.
_FN = "logcheck_refuse_marked"
INJECTIONS = {
    "trigger raising with the row's values": (
        f"CREATE FUNCTION {_FN}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION 'refused %', NEW; END $$",
        f"CREATE TRIGGER {_FN} BEFORE INSERT ON profiles FOR EACH ROW "
        f"WHEN (NEW.given_names = 'Xiomarelis') EXECUTE FUNCTION {_FN}()"),
    "connection lost mid-statement": (
        f"CREATE FUNCTION {_FN}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); "
        f"RETURN NEW; END $$",
        f"CREATE TRIGGER {_FN} BEFORE INSERT ON profiles FOR EACH ROW "
        f"WHEN (NEW.given_names = 'Xiomarelis') EXECUTE FUNCTION {_FN}()"),
    "check constraint violated": (
        "ALTER TABLE profiles ADD CONSTRAINT ck_logcheck_refuse_marked "
        "CHECK (given_names <> 'Xiomarelis') NOT VALID",),
}
_REMOVE = (f"DROP TRIGGER IF EXISTS {_FN} ON profiles", f"DROP FUNCTION IF EXISTS {_FN}()",
           "ALTER TABLE profiles DROP CONSTRAINT IF EXISTS ck_logcheck_refuse_marked")


def assert_clean(what: str, text_: str) -> None:
    found = [m for m in MARKERS if m.lower() in text_.lower()]
    assert not found, f"personal data {found} in the {what}:\n{text_[-3000:]}"


@pytest.fixture
async def own_app(database_urls: dict[str, str], token_keys: Any, settings: Settings
                  ) -> AsyncIterator[FastAPI]:
    """The embedded gateway on its own pools (not the test's rolled-back connection: a
    failure may kill the connection it runs on)."""
    dbs = {name: Database(url, pool_size=2) for name, url in database_urls.items()}
    app = create_embedded_app(settings, dbs)
    async with app.router.lifespan_context(app):
        yield app
    for db in dbs.values():
        await db.dispose()


@pytest.mark.postgres_only
@pytest.mark.parametrize("injection", list(INJECTIONS))
async def test_a_failing_write_logs_no_personal_data(
    injection: str, own_app: FastAPI, database_urls: dict[str, str], auth: TokenFactory,
) -> None:
    people = [profile_payload(**MARKED, documents=[MARKED_DOCUMENT])]
    if injection == "check constraint violated":  # a batch: COPY, the driver's own error
        people.insert(0, profile_payload(given_names="Ana"))
    await run_sql(database_urls["registry"], INJECTIONS[injection])
    try:
        with production_logs() as logs:
            async with served(own_app) as url, httpx.AsyncClient(base_url=url) as client:
                if len(people) > 1:
                    resp = await client.post("/v1/profiles/bulk", json={"items": people},
                                             headers=auth())
                else:
                    resp = await client.post("/v1/profiles", json=people[0], headers=auth())
    finally:
        await run_sql(database_urls["registry"], _REMOVE)
    assert resp.status_code in (500, 503), resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["status"] == resp.status_code
    assert_clean("answer", resp.text)
    log = logs.getvalue()
    assert resp.headers["x-request-id"] in log  # the failure was logged, with its request id
    assert_clean("logs", log)


async def test_a_driver_error_from_a_project_engine_is_logged_without_values(
    dbs: dict[str, Database],
) -> None:
    """Both databases: the error a project engine raises for a write, through the one error
    handler and uvicorn, names no value (SQLite's message has none of its own; SQLAlchemy
    appended the parameters)."""
    error: Exception | None = None
    try:
        async with dbs["registry"].uow() as uow:
            await uow.session.execute(
                text("INSERT INTO profiles (id, given_names, first_surname, email, phone) "
                     "VALUES (:id, :g, :s, :e, :p)"),
                {"id": str(uuid.uuid4()), "g": MARKED["given_names"], "s": MARKED["first_surname"],
                 "e": MARKED["email"], "p": MARKED["phone"]})
    except Exception as exc:  # the NOT NULL columns left out
        error = exc
    assert error is not None
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    with production_logs() as logs:
        async with served(app) as url, httpx.AsyncClient(base_url=url) as c:
            resp = await c.get("/boom")
    assert resp.status_code == 500
    assert_clean("answer", resp.text)
    log = logs.getvalue()
    assert "unhandled_error" in log
    assert_clean("logs", log)
