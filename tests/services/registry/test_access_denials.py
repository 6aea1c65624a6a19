"""Denied access to an existing person leaves a trace its organisation reads (issue 16,
item 6): who probed, from which organisation, on which route and when, never what they sent;
and the 404 runs the same statements whether the person exists or not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from shared.db import Database
from tests.support.registry import create
from tests.support.tokens import TokenFactory

_ALL = text("SELECT * FROM access_denials")
MISSING = "00000000-0000-4000-8000-000000000000"
ADMIN: dict[str, Any] = {"org": None, "regions": []}


async def _denials(client: httpx.AsyncClient, headers: dict[str, str], pid: str,
                   **params: Any) -> httpx.Response:
    return await client.get(f"/v1/profiles/{pid}/access-denials", headers=headers,
                            params=params)


async def test_a_probe_from_another_organisation_is_read_by_the_owners_coordinator(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}"
    prober = auth(org="ong-otra", subject="client-otra", **{"If-Match": p["_etag"]})
    assert (await client.get(url, headers=prober)).status_code == 404
    assert (await client.get(url, headers=prober)).status_code == 404
    assert (await client.patch(url, json={"second_surname": "SECRETO-BODY"},
                               headers=prober)).status_code == 404
    check = await client.get(f"{url}/consent-check", headers=prober,
                             params={"purpose": "referral", "recipient": "SECRETO-QUERY"})
    assert check.status_code == 404
    assert (await client.get(f"{url}/consents", headers=prober)).status_code == 404

    resp = await _denials(client, auth("coordinator"), p["id"])
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    seen = {(i["method"], i["route"]): i for i in items}
    assert set(seen) == {("GET", "/v1/profiles/{profile_id}"),
                         ("PATCH", "/v1/profiles/{profile_id}"),
                         ("GET", "/v1/profiles/{profile_id}/consent-check"),
                         ("GET", "/v1/profiles/{profile_id}/consents")}
    read = seen[("GET", "/v1/profiles/{profile_id}")]
    assert read["organisation_id"] == "ong-otra"
    assert read["client_id"] == "client-otra"
    assert read["role"] == "caseworker"
    assert read["attempts"] == 2
    assert read["first_at"] <= read["last_at"]
    # never the prober's body or query values
    async with dbs["registry"].uow() as uow:
        stored = (await uow.session.execute(_ALL)).all()
    assert "SECRETO" not in repr(stored)
    # the owner's own reads leave no denial
    await client.get(url, headers=auth())
    assert len((await _denials(client, auth("coordinator"), p["id"])).json()["items"]) == 4


async def test_who_may_read_the_denials(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    p = await create(client, auth())
    await client.get(f"/v1/profiles/{p['id']}", headers=auth(org="ong-otra"))
    assert (await _denials(client, auth(), p["id"])).status_code == 403
    assert (await _denials(client, auth("coordinator", org="ong-otra"), p["id"])
            ).status_code == 404
    admin = await _denials(client, auth("admin", **ADMIN), p["id"])
    assert admin.status_code == 200, admin.text
    # the other organisation's coordinator knocking on the audit itself is a probe too
    assert [(i["organisation_id"], i["role"], i["route"]) for i in admin.json()["items"]] == [
        ("ong-otra", "coordinator", "/v1/profiles/{profile_id}/access-denials"),
        ("ong-otra", "caseworker", "/v1/profiles/{profile_id}")]
    assert (await _denials(client, auth("admin", **ADMIN), MISSING)).status_code == 404
    for role, org in (("ngo_partner", "ong-lima"), ("provider", "ong-lima"),
                      ("ministry_system", "sunedu")):
        assert (await _denials(client, auth(role, org=org), p["id"])).status_code == 403


async def test_the_person_named_in_a_body_is_the_one_recorded(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    """A merge names its duplicate in the body: refused, the duplicate's owner learns of it
    (not the prober's own profile in the path), still without the body."""
    theirs = await create(client, auth())
    prober = auth(org="ong-otra")
    own = await create(client, prober, documents=[
        {"type": "passport", "number": "P7654321", "issuing_country": "VEN",
         "verification": "seen"}])
    resp = await client.post(f"/v1/profiles/{own['id']}/merge",
                             json={"duplicate_id": theirs["id"]},
                             headers={**prober, "If-Match": own["_etag"]})
    assert resp.status_code == 404, resp.text
    items = (await _denials(client, auth("coordinator"), theirs["id"])).json()["items"]
    assert [(i["organisation_id"], i["method"], i["route"]) for i in items] == [
        ("ong-otra", "POST", "/v1/profiles/{profile_id}/merge")]
    assert (await _denials(client, auth("coordinator", org="ong-otra"), own["id"])
            ).json()["items"] == []


async def test_probing_a_missing_id_leaves_nothing(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth())
    for _ in range(3):
        assert (await client.get(f"/v1/profiles/{MISSING}", headers=auth(org="ong-otra"))
                ).status_code == 404
    assert (await _denials(client, auth("coordinator"), p["id"])).json()["items"] == []
    async with dbs["registry"].uow() as uow:
        assert (await uow.session.execute(_ALL)).all() == []


async def test_many_probes_are_one_row_per_prober_route_and_day_and_pages(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}"
    for _ in range(50):
        await client.get(url, headers=auth(org="ong-otra"))
    for org in ("ong-a", "ong-b", "ong-c"):
        await client.get(url, headers=auth(org=org))
    async with dbs["registry"].uow() as uow:
        assert len((await uow.session.execute(_ALL)).all()) == 4
    coordinator = auth("coordinator")
    first = (await _denials(client, coordinator, p["id"], limit=3)).json()
    assert [i["organisation_id"] for i in first["items"]] == ["ong-c", "ong-b", "ong-a"]
    rest = (await _denials(client, coordinator, p["id"], limit=3,
                           cursor=first["next_cursor"])).json()
    assert [(i["organisation_id"], i["attempts"]) for i in rest["items"]] == [("ong-otra", 50)]
    assert rest["next_cursor"] is None


@contextmanager
def _statements(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement sent, through SQLAlchemy or straight to asyncpg."""
    seen: list[str] = []

    def note(statement: str) -> None:  # savepoints are numbered per test: not a difference
        seen.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

    def on_execute(*args: Any) -> None:
        note(args[2])

    if db.is_postgres:
        import asyncpg

        for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval",
                     "copy_records_to_table"):
            original = getattr(asyncpg.connection.Connection, name)

            def wrapped(self: Any, query: str, *a: Any, __o: Any = original,
                        **kw: Any) -> Any:
                note(query)
                return __o(self, query, *a, **kw)

            monkeypatch.setattr(asyncpg.connection.Connection, name, wrapped)
    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        monkeypatch.undo()


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("GET", "", None), ("PATCH", "", {"second_surname": "X"}), ("DELETE", "", None),
    ("GET", "/consents", None), ("GET", "/export", None), ("GET", "/audit", None),
    ("GET", "/duplicates", None), ("GET", "/consent-check?purpose=contact", None),
])
async def test_the_404_runs_the_same_statements_whether_the_person_exists_or_not(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database],
    monkeypatch: pytest.MonkeyPatch, method: str, suffix: str, body: Any
) -> None:
    p = await create(client, auth())
    prober = auth("coordinator", org="ong-otra", **{"If-Match": p["_etag"]})
    runs = []
    for pid in (p["id"], MISSING, p["id"], MISSING):
        with _statements(dbs["registry"], monkeypatch) as seen:
            resp = await client.request(method, f"/v1/profiles/{pid}{suffix}", json=body,
                                        headers=prober)
        assert resp.status_code == 404, resp.text
        runs.append(seen)
    # the first probe of the day inserts, the second updates: compare like with like
    assert runs[0] == runs[1]
    assert runs[2] == runs[3]
    assert any("access_denials" in s for s in runs[0])


async def test_a_probe_through_another_service_is_recorded_as_the_read_it_made(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    """Referrals reads the person from the registry as the caller: the registry records it."""
    p = await create(client, auth())
    resp = await client.get(f"/v1/profiles/{p['id']}/recommendations",
                            headers=auth(org="ong-otra"))
    assert resp.status_code == 404, resp.text
    items = (await _denials(client, auth("coordinator"), p["id"])).json()["items"]
    assert [(i["organisation_id"], i["method"], i["route"]) for i in items] == [
        ("ong-otra", "GET", "/v1/profiles/{profile_id}")]


async def test_a_denial_that_cannot_be_written_leaves_the_404_alone(
    client: httpx.AsyncClient, auth: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.registry import denials

    async def broken(**_: Any) -> None:
        raise OSError("database gone")

    p = await create(client, auth())
    monkeypatch.setattr(denials, "record_denial", broken)
    resp = await client.get(f"/v1/profiles/{p['id']}", headers=auth(org="ong-otra"))
    assert resp.status_code == 404
    assert resp.json()["type"].endswith("/profile-not-found")
