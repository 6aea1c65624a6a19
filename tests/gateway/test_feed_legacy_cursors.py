"""Feed cursors issued before cursors were bound to the caller (issue 16, item 5): ministry
systems store them for a long time, so during the transition window the first client that
presents one gets its page and a cursor bound to it; the same legacy cursor from any other
client is then the invalid-cursor problem. Legacy cursors of other lists, and every legacy
cursor after the window, are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

TYPES = "profile.created"


def legacy_cursor(secret: str, list_name: str, filters: dict[str, Any],
                  position: list[Any]) -> str:
    """A cursor exactly as the codec made them before they named their caller."""
    key = hashlib.sha256(b"ruta-cursor\0" + secret.encode()).digest()
    clean = {k: v for k, v in sorted(filters.items()) if v is not None}
    fingerprint = hashlib.sha256(orjson.dumps(clean, default=str)).hexdigest()[:16]
    body = orjson.dumps({"l": list_name, "f": fingerprint, "p": position})
    raw = body + hmac.new(key, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def _feed(c: httpx.AsyncClient, headers: dict[str, str], cursor: str | None = None
                ) -> httpx.Response:
    params: dict[str, str | int] = {"types": TYPES, "limit": 50,
                                    **({"cursor": cursor} if cursor else {})}
    return await c.get("/v1/events", params=params, headers=headers)


async def _three_events(app: FastAPI, c: httpx.AsyncClient, auth: TokenFactory
                        ) -> list[int]:
    """Three profile.created events in the feed of ong-lima; their positions."""
    ids = []
    for name in ("Ana", "Berta", "Carla"):
        made = await c.post("/v1/profiles", json=profile_payload(given_names=name),
                            headers=auth())
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    await app.state.hub.run_once()
    page = await _feed(c, auth("ministry_system", org="ong-lima", subject="reader"))
    return [e["position"] for e in page.json()["items"] if e["subject_id"] in ids]


def _problem(resp: httpx.Response) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.json()["type"] == "/problems/invalid-cursor"


async def test_a_legacy_feed_cursor_is_rebound_to_the_first_client_that_presents_it(
    app: FastAPI, client: httpx.AsyncClient, auth: TokenFactory, settings: Settings
) -> None:
    positions = await _three_events(app, client, auth)
    assert len(positions) == 3
    held = legacy_cursor(settings.cursor_secret, "events", {"types": [TYPES]}, [positions[0]])
    mtpe = auth("ministry_system", org="ong-lima", subject="sistema-mtpe")

    first = await _feed(client, mtpe, held)
    assert first.status_code == 200, first.text
    assert [e["position"] for e in first.json()["items"]] == positions[1:]  # nothing skipped
    bound = first.json()["next_cursor"]
    assert bound != held
    # the re-issued cursor is bound: another client of the same organisation cannot use it
    _problem(await _feed(client, auth("ministry_system", org="ong-lima", subject="otro"), bound))
    resumed = await _feed(client, mtpe, bound)
    assert resumed.status_code == 200 and resumed.json()["items"] == []

    # the same client may present its legacy cursor again (a retry after a lost answer)...
    retry = await _feed(client, mtpe, held)
    assert retry.status_code == 200, retry.text
    assert [e["position"] for e in retry.json()["items"]] == positions[1:]
    # ...nobody else may, in its organisation or another one
    _problem(await _feed(client, auth("ministry_system", org="ong-lima", subject="otro"), held))
    _problem(await _feed(client, auth("ministry_system", org="sunedu", subject="sunedu"), held))
    _problem(await _feed(client, auth("admin", org=None, regions=[], subject="root"), held))


async def test_legacy_cursors_of_other_lists_and_forged_ones_are_refused(
    client: httpx.AsyncClient, auth: TokenFactory, settings: Settings
) -> None:
    programmes = legacy_cursor(settings.cursor_secret, "programmes", {"country": "PE"},
                               ["pe-colegio-enfermeros"])
    resp = await client.get("/v1/programs", params={"country": "PE", "cursor": programmes},
                            headers=auth())
    _problem(resp)
    forged = legacy_cursor("not-the-secret", "events", {"types": [TYPES]}, [0])
    _problem(await _feed(client, auth("ministry_system", org="ong-lima"), forged))


@pytest.fixture
async def after_window(dbs: dict[str, Database]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_embedded_app(Settings(legacy_feed_cursors_until="2026-01-31"), dbs)
    async with app.router.lifespan_context(app), contract_client(app) as c:
        yield c


async def test_after_the_transition_window_a_legacy_feed_cursor_is_refused(
    after_window: httpx.AsyncClient, auth: TokenFactory
) -> None:
    held = legacy_cursor(Settings().cursor_secret, "events", {"types": [TYPES]}, [0])
    resp = await _feed(after_window, auth("ministry_system", org="ong-lima"), held)
    _problem(resp)
    assert "2026-01-31" in resp.json()["detail"]
