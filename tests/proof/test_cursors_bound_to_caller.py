"""A list's `next_cursor` belongs to the caller it was given to (issue 16, item 5): another
organisation, another person or another client of the same organisation replaying it gets the
invalid-cursor problem, never a page; the caller it was issued to keeps paging with it.

Was: organisation B replaying A's `next_cursor` got 200 on every list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.credentials import degree_payload
from tests.support.payloads import profile_payload
from tests.support.referrals import Route, documents
from tests.support.tokens import TokenFactory

Headers = dict[str, str]


@dataclass
class Case:
    path: str
    params: dict[str, Any]
    owner: Headers
    others: list[Headers]


Setup = Callable[[httpx.AsyncClient, TokenFactory], Awaitable[Case]]


def _admin(auth: TokenFactory, subject: str) -> Headers:
    return auth("admin", org=None, regions=[], subject=subject)


async def _ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code in (200, 201, 202), resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _profiles(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    a = auth(org="ong-cur-a", subject="caseworker-a")
    for name in ("Ana", "Berta"):
        await _ok(await c.post("/v1/profiles", headers=a, json=profile_payload(given_names=name)))
    return Case("/v1/profiles", {}, a, [auth(org="ong-cur-b", subject="caseworker-b"),
                                        auth(org="ong-cur-a", subject="caseworker-a2")])


async def _profiles_by_document(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    a = auth(org="ong-cur-a", subject="caseworker-a")
    await _ok(await c.post("/v1/profiles", headers=a, json=profile_payload(
        documents=[{"type": "pe_dni", "number": "41778812"}])))
    await _ok(await c.post("/v1/profiles", headers=a, json=profile_payload(
        given_names="Ana", birth_date="1985-01-02",
        documents=[{"type": "ve_cedula", "number": "V-41.778.812"}])))
    return Case("/v1/profiles", {"document": "41778812"}, a,
                [auth(org="ong-cur-b", subject="caseworker-b")])


async def _audit(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    made = await _ok(await c.post("/v1/profiles", headers=auth(), json=profile_payload()))
    for _ in range(2):
        await _ok(await c.get(f"/v1/profiles/{made['id']}", headers=auth()))
    return Case(f"/v1/profiles/{made['id']}/audit", {}, auth("coordinator", subject="coord-1"),
                [auth("coordinator", subject="coord-2")])


async def _programmes(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    return Case("/v1/programs", {"country": "PE"}, auth(),
                [auth(org="ong-otra"), auth(subject="another-caseworker")])


async def _providers(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    return Case("/v1/providers", {"country": "PE"}, auth(), [auth(org="ong-otra")])


async def _referrals(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    route = Route(c, auth)
    for name in ("Ana", "Berta"):
        pid = await route.person(given_names=name, consents_for=("mtpe-empleo",))
        await route.referral(pid)
    return Case("/v1/referrals", {}, route.h(), [auth(subject="another-caseworker"),
                                                 route.provider("mtpe-empleo")])


async def _pathways(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    route = Route(c, auth)
    for name in ("Ana", "Berta"):
        pid = await route.person(given_names=name, consents_for=("sunedu", "mtpe-empleo"))
        await _ok(await c.post("/v1/pathways", headers=route.h(), json={
            "profile_id": pid, "template": "pe-recognition-employment"}))
    return Case("/v1/pathways", {}, route.h(), [auth(subject="another-caseworker"),
                                                route.provider("sunedu")])


async def _credentials(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    pid = (await _ok(await c.post("/v1/profiles", headers=auth(), json=profile_payload(
        documents=documents()))))["id"]
    for title in ("Médico Cirujano", "Magíster en Salud Pública"):
        await _ok(await c.post("/v1/credentials", headers=auth(),
                               json=degree_payload(pid, title=title)))
    return Case("/v1/credentials", {"profile_id": pid}, auth(),
                [auth(subject="another-caseworker")])


async def _organisations(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    for org in ("ong-cur-a", "ong-cur-b"):
        await _ok(await c.post("/v1/organisations", headers=_admin(auth, "admin-1"), json={
            "id": org, "name": "Red de prueba", "kind": "ngo", "country": "PE",
            "regions": ["PE-LMA"]}))
    return Case("/v1/organisations", {}, _admin(auth, "admin-1"), [_admin(auth, "admin-2")])


async def _clients(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    await _organisations(c, auth)
    for _ in range(2):
        await _ok(await c.post("/v1/clients", headers=_admin(auth, "admin-1"), json={
            "name": "Integración", "organisation_id": "ong-cur-a", "role": "ngo_partner"}))
    return Case("/v1/clients", {}, _admin(auth, "admin-1"), [_admin(auth, "admin-2")])


async def _deliveries(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    mine = auth("ngo_partner", subject="sistema-1")
    sub = await _ok(await c.post("/v1/webhook-subscriptions", headers=mine, json={
        "url": "https://sistemas.mtpe.gob.pe/ruta/webhooks", "event_types": ["*"]}))
    for _ in range(2):
        await _ok(await c.post(f"/v1/webhook-subscriptions/{sub['id']}/test", headers=mine))
    return Case(f"/v1/webhook-subscriptions/{sub['id']}/deliveries", {}, mine,
                [auth("ngo_partner", subject="sistema-2")])


async def _events(c: httpx.AsyncClient, auth: TokenFactory) -> Case:
    return Case("/v1/events", {"types": "profile.created"},
                auth("ministry_system", org="mtpe", subject="sistema-mtpe"),
                [auth("ministry_system", org="sunedu", subject="sistema-sunedu"),
                 auth("ministry_system", org="mtpe", subject="otro-sistema-mtpe")])


LISTS: dict[str, Setup] = {
    "profiles": _profiles, "profiles-by-document": _profiles_by_document, "audit": _audit,
    "programmes": _programmes, "providers": _providers, "referrals": _referrals,
    "pathways": _pathways, "credentials": _credentials, "organisations": _organisations,
    "clients": _clients, "deliveries": _deliveries, "events": _events,
}


@pytest.mark.parametrize("name", list(LISTS))
async def test_a_cursor_works_only_for_the_caller_it_was_issued_to(
    name: str, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    case = await LISTS[name](client, auth)
    first = await client.get(case.path, params={**case.params, "limit": 1}, headers=case.owner)
    cursor = (await _ok(first))["next_cursor"]
    assert cursor, f"{name}: the first page must have a next page"
    replay = {**case.params, "limit": 1, "cursor": cursor}
    for other in case.others:
        stolen = await client.get(case.path, params=replay, headers=other)
        assert stolen.status_code == 400, (name, stolen.status_code, stolen.text)
        assert stolen.headers["content-type"] == "application/problem+json"
        assert stolen.json()["type"] == "/problems/invalid-cursor"
    again = await client.get(case.path, params=replay, headers=case.owner)
    assert again.status_code == 200, again.text
