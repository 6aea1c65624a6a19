"""Hostile text in identity fields (issue 16, findings 2 and 3): controls, NUL, unpaired
surrogates, bidirectional controls and zero-width characters are a 422 naming the field, the
same on both databases; what is accepted is stored in NFC."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

HOSTILE = {
    "nul": "Mar\x00ía",
    "bell": "Mar\x07ía",
    "c1 next line": "Mar\x85ía",
    "right-to-left override": "Mar\u202eía",
    "zero-width space": "Mar\u200bía",
    "byte order mark": "\ufeffMaría",
    "unpaired surrogate": "Mar\ud800ía",
}


@pytest.mark.invalid_request
@pytest.mark.parametrize("field", ["given_names", "first_surname"])
@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_characters_are_422_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, field: str, text: str,
) -> None:
    # ASCII-escaped JSON, as a client would send an unpaired surrogate ("\ud800")
    body = json.dumps(profile_payload(**{field: text})).encode()
    resp = await client.post("/v1/profiles", content=body,
                             headers=auth(**{"Content-Type": "application/json"}))
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == [field]
    listed = await client.get("/v1/profiles", params={"name": "María"}, headers=auth())
    assert listed.json()["items"] == []  # nothing half-written


async def test_names_are_stored_in_nfc(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    decomposed = "Jose\u0301 Gregorio"  # e + combining acute, as some keyboards send it
    made = await client.post("/v1/profiles", headers=auth(),
                             json=profile_payload(given_names=decomposed))
    assert made.status_code == 201, made.text
    assert made.json()["given_names"] == "José Gregorio"
    read = await client.get(f"/v1/profiles/{made.json()['id']}", headers=auth())
    assert read.json()["given_names"] == "José Gregorio"
