"""The two hot reads (one profile, lookup by document): on PostgreSQL each is one statement
whose CTE writes the audit rows, on SQLite a unit of work. Both must audit exactly what the
caller was shown — no more (a refused or unseen profile), no less (every item of the page)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.registry.models import AuditEntry
from services.registry.usecases import consents as consents_usecases
from shared.db import Database
from shared.errors import ServiceUnavailable
from tests.support.databases import IS_POSTGRES
from tests.support.registry import create, share
from tests.support.tokens import TokenFactory


async def audit_rows(db: Database, profile_id: str) -> list[tuple[str, str | None, list[str]]]:
    async with db.uow() as uow:
        rows = (await uow.session.scalars(select(AuditEntry).where(
            AuditEntry.profile_id == profile_id).order_by(AuditEntry.id))).all()
    return [(r.action, r.actor_organisation_id, list(r.fields)) for r in rows]


async def test_profile_read_audits_the_reader_once_and_refusals_not_at_all(
        client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]) -> None:
    p = await create(client, auth(), region="PE-LMA")
    url = f"/v1/profiles/{p['id']}"

    read = await client.get(url, headers=auth())
    assert read.status_code == 200
    assert read.json()["given_names"] == "María José"
    assert read.headers["etag"] == p["_etag"]
    # another organisation, and the owner's colleague limited to another region: 404, no trace
    assert (await client.get(url, headers=auth(org="ong-quito"))).status_code == 404
    assert (await client.get(url, headers=auth(regions=["PE-ARE"]))).status_code == 404
    assert (await client.get(f"/v1/profiles/{p['id'][:-4]}beef", headers=auth())
            ).status_code == 404
    rows = await audit_rows(dbs["registry"], p["id"])
    assert [(a, o) for a, o, _ in rows] == [("create", "ong-lima"), ("read", "ong-lima")]
    assert "sensitive" not in rows[1][2]

    # with the permission, the audit says sensitive data was shown
    await client.get(url, headers=auth(permissions=["sensitive:read"]))
    assert (await audit_rows(dbs["registry"], p["id"]))[-1][2][-1] == "sensitive"


async def test_shared_reader_is_audited_once_as_itself(
        client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]) -> None:
    p = await create(client, auth())
    await share(client, auth, p["id"], "mtpe-empleo")
    before = len(await audit_rows(dbs["registry"], p["id"]))
    read = await client.get(f"/v1/profiles/{p['id']}", headers=auth("provider", org="mtpe-empleo"))
    assert read.status_code == 200
    rows = (await audit_rows(dbs["registry"], p["id"]))[before:]
    assert [(a, o) for a, o, _ in rows] == [("read", "mtpe-empleo")]


async def test_document_lookup_audits_each_item_of_the_page_only(
        client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]) -> None:
    # a bare number finds both a Peruvian DNI and the Venezuelan cédula with the same digits
    a = await create(client, auth(), documents=[{"type": "pe_dni", "number": "40778812"}])
    b = await create(client, auth(), given_names="Ana", birth_date="1985-01-02",
                     documents=[{"type": "ve_cedula", "number": "V-40.778.812"}])
    first = (await client.get("/v1/profiles", params={"document": "40778812", "limit": 1},
                              headers=auth())).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = (await client.get("/v1/profiles", params={
        "document": "40778812", "limit": 1, "cursor": first["next_cursor"]},
        headers=auth())).json()
    assert second["next_cursor"] is None
    shown = [first["items"][0]["id"], second["items"][0]["id"]]
    assert sorted(shown) == sorted([a["id"], b["id"]])
    for pid in shown:
        searches = [r for r in await audit_rows(dbs["registry"], pid) if r[0] == "search"]
        assert searches == [("search", "ong-lima", ["identity", "location"])]

    # outside the caller's organisation or regions: nothing found, nothing audited
    for headers in (auth(org="ong-quito"), auth(regions=["PE-ARE"])):
        got = await client.get("/v1/profiles", params={"document": "40778812"}, headers=headers)
        assert got.status_code == 200 and got.json()["items"] == []
    for pid in shown:
        assert len([r for r in await audit_rows(dbs["registry"], pid) if r[0] == "search"]) == 1

    # filters still apply, and a shared profile is found by its recipient
    got = (await client.get("/v1/profiles", params={
        "document": "40778812", "document_type": "ve_cedula"}, headers=auth())).json()
    assert [i["id"] for i in got["items"]] == [b["id"]]
    await share(client, auth, a["id"], "ong-quito")
    got = (await client.get("/v1/profiles", params={"document": "40778812"},
                            headers=auth(org="ong-quito"))).json()
    assert [i["id"] for i in got["items"]] == [a["id"]]


@pytest.mark.skipif(not IS_POSTGRES, reason="single statements are PostgreSQL's hot path")
async def test_direct_pool_runs_statements_outside_any_session(
        root_dbs: dict[str, Database]) -> None:
    db = root_dbs["registry"]
    for _ in range(3):  # released without RESET ALL, reused
        async with db.statement() as conn:
            assert await conn.fetchval("SHOW application_name") == "ruta-direct"
            assert not conn.is_in_transaction()

    class Refused(Exception):
        pass

    with pytest.raises(Refused):  # the caller's own errors pass through unchanged
        async with db.statement():
            raise Refused


@pytest.mark.skipif(not IS_POSTGRES, reason="single statements are PostgreSQL's hot path")
async def test_unreachable_database_is_a_retryable_503() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            async with db.statement() as conn:
                await conn.fetchval("SELECT 1")
        assert caught.value.status == 503
    finally:
        await db.dispose()



@pytest.mark.skipif(not IS_POSTGRES, reason="single statements are PostgreSQL's hot path")
async def test_a_connection_the_driver_lost_track_of_is_a_503_and_never_reused(
        root_dbs: dict[str, Database]) -> None:
    """During a PostgreSQL restart asyncpg raised its InternalClientError ("another
    operation is in progress") from a pooled connection, three reads in a row answered 500
    (make faults, issue 22). Now: the retryable 503, and that connection is dropped, so the
    next statement runs on a fresh one."""
    from asyncpg.exceptions import InternalClientError

    db = root_dbs["registry"]
    with pytest.raises(ServiceUnavailable) as caught:
        async with db.statement() as conn:
            broken = await conn.fetchval("SELECT pg_backend_pid()")
            raise InternalClientError("cannot switch to state 15; another operation "
                                      "(2) is in progress")
    assert caught.value.status == 503
    for _ in range(3):
        async with db.statement() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != broken


async def test_consent_check_by_the_owner_is_audited_once_and_answers_as_the_rules_say(
        client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the owner's check is one statement (hot_reads.consent_check_audited);
    a provider's goes the general way: both answer the same."""
    one_statement: list[int] = []
    checked = consents_usecases.consent_check_audited

    async def counted(conn: Any, **kw: Any) -> Any:
        owned, consents = await checked(conn, **kw)
        one_statement.append(int(owned.audited))
        return owned, consents

    monkeypatch.setattr(consents_usecases, "consent_check_audited", counted)
    p = await create(client, auth(), region="PE-LMA")
    url = f"/v1/profiles/{p['id']}/consent-check"
    params = {"purpose": "referral", "recipient": "mtpe-empleo", "programme": "pe-empleo"}
    refused = await client.get(url, params=params, headers=auth())
    assert refused.status_code == 200, refused.text
    assert refused.json()["granted"] is False and refused.json()["consent_id"] is None
    consent = await share(client, auth, p["id"], "mtpe-empleo")
    owner = (await client.get(url, params=params, headers=auth())).json()
    assert owner == {"profile_id": p["id"], "organisation_id": "ong-lima", "region": "PE-LMA",
                     "purpose": "referral", "recipient": "mtpe-empleo", "granted": True,
                     "consent_id": consent["id"]}
    other = await client.get(url, params={**params, "recipient": "ong-quito"}, headers=auth())
    assert other.json()["granted"] is False
    provider = await client.get(url, params=params, headers=auth("provider", org="mtpe-empleo"))
    assert provider.json() == owner
    # outside the organisation or the regions: 404, and nothing audited
    for headers in (auth(org="ong-quito"), auth(regions=["PE-ARE"])):
        assert (await client.get(url, params=params, headers=headers)).status_code == 404
    checks = [(o, f) for a, o, f in await audit_rows(dbs["registry"], p["id"])
              if a == "consent_check"]
    assert checks == [("ong-lima", ["consents"])] * 3 + [("mtpe-empleo", ["consents"])]
    # the owner's three answers came from the one statement; the outsiders' went the general
    # way (and the provider's never tried it)
    assert one_statement == ([1, 1, 1, 0, 0] if IS_POSTGRES else [])
