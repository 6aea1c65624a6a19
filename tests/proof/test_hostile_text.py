"""Hostile characters in the text fields of every service (issue 16, item 2): NUL, a bell, a
C1 control and an unpaired surrogate are a 422 naming the field, the same on SQLite and
PostgreSQL (before: a NUL was a 500 on PostgreSQL, the others stored as sent), and nothing is
written. Long free text keeps its lines."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

HOSTILE = {"nul": "a\x00b", "bell": "a\x07b", "c1": "a\x85b", "surrogate": "a\ud800b"}
CONSENT = {"purpose": "registration", "status": "granted", "evidence": "verbal_witnessed",
           "witnessed_by": "Rosa Díaz"}
ORGANISATION = {"id": "ong-hostil", "name": "Red Solidaria", "kind": "ngo", "country": "PE",
                "regions": ["PE-LMA"]}
PROGRAMME = {"id": "pe-hostil", "name": "Bootcamp", "name_en": "Bootcamp",
             "route_type": "skills_certification", "country": "PE", "operator": "MTPE",
             "regions": ["PE-LMA"]}
CREDENTIAL = {"profile_id": "00000000-0000-4000-8000-000000000000", "kind": "academic_degree",
              "title": "Médico Cirujano", "issued_on": "2015-07-20",
              "issuer": {"name": "Universidad Central de Venezuela", "country": "VE"}}


def _set(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    node: Any = body
    *parents, last = path.replace("]", "").replace("[", ".").split(".")
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[last] = value
    return body


# (service, role, method, url, body, field): a sample of text fields in each service.
CASES = [
    ("registry", "caseworker", "POST", "/v1/profiles",
     lambda: profile_payload(consents=[dict(CONSENT)]), "consents[0].witnessed_by"),
    ("registry", "caseworker", "POST", "/v1/profiles",
     lambda: profile_payload(documents=[{"type": "passport", "number": "X1",
                                         "issuing_country": "COL"}]), "documents[0].number"),
    ("referrals", "admin", "POST", "/v1/programs", lambda: dict(PROGRAMME), "name"),
    ("referrals", "admin", "POST", "/v1/programs", lambda: dict(PROGRAMME), "description"),
    ("credentials", "caseworker", "POST", "/v1/credentials", lambda: dict(CREDENTIAL),
     "title"),
    ("credentials", "caseworker", "POST", "/v1/credentials", lambda: dict(CREDENTIAL),
     "issuer.name"),
    ("gateway", "admin", "POST", "/v1/organisations", lambda: dict(ORGANISATION), "name"),
    ("gateway", "ngo_partner", "POST", "/v1/webhook-subscriptions",
     lambda: {"url": "https://example.org/hook", "event_types": ["profile.created"]},
     "description"),
]


def _headers(auth: TokenFactory, role: str) -> dict[str, str]:
    if role == "admin":
        return auth("admin", org=None, regions=[], **{"Content-Type": "application/json"})
    return auth(role, **{"Content-Type": "application/json"})


@pytest.mark.invalid_request
@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize(("service", "role", "method", "url", "body", "field"), CASES,
                         ids=[f"{c[0]}-{c[5]}" for c in CASES])
async def test_hostile_characters_are_a_422_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, service: str, role: str, method: str,
    url: str, body: Any, field: str, text: str,
) -> None:
    # ASCII-escaped JSON, as a client sends an unpaired surrogate ("\ud800")
    content = json.dumps(_set(body(), field, text)).encode()
    resp = await client.request(method, url, content=content, headers=_headers(auth, role))
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == [field], resp.text


# Percent-encoded as a client sends them in a URL (the last one is a surrogate's UTF-8 bytes).
IN_PATH = {"nul": "a%00b", "bell": "a%07b", "c1": "a%C2%85b", "surrogate": "a%ED%A0%80b"}


@pytest.mark.invalid_request
@pytest.mark.parametrize("text", IN_PATH.values(), ids=IN_PATH.keys())
@pytest.mark.parametrize(("url", "param"), [
    ("/v1/profiles/{}", "profile_id"), ("/v1/organisations/{}", "organisation_id"),
    ("/v1/webhook-subscriptions/{}", "sub_id")])
async def test_hostile_characters_in_a_path_id_are_a_422_not_a_500(
    client: httpx.AsyncClient, auth: TokenFactory, url: str, param: str, text: str,
) -> None:
    role = "admin" if "organisations" in url else "ngo_partner"
    resp = await client.get(url.format(text), headers=_headers(auth, role))
    assert resp.status_code in (404, 422), resp.text
    if resp.status_code == 422:
        assert [e["field"] for e in resp.json()["errors"]] == [f"path.{param}"]
