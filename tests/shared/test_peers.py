"""One reading of a peer's answer (``Peers.get_json``), shared by every adapter: a merged
profile's 308 is followed once to the survivor, 404/410 mean absent, anything else is a 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from shared.errors import AppError, ServiceUnavailable, UpstreamTimeout
from shared.identity import ASSERTION_HEADER, AssertionSigner, Identity, Role
from shared.peers import NOT_VISIBLE, PeerAnswerUnexpected, Peers
from shared.settings import Settings
from tests.support.live import free_port

CALLER = Identity(subject="svc-test", role=Role.SYSTEM, organisation_id=None)


class Gone(AppError):
    status = 410
    code = "gone"


def registry_double() -> tuple[FastAPI, list[str]]:
    """A peer that answers as the registry does for merged, erased and hidden profiles."""
    app = FastAPI()
    asked: list[str] = []

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        asked.append(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return await call_next(request)

    moved = {"merged": "/v1/profiles/survivor", "twice": "/v1/profiles/merged",
             "absolute": "https://elsewhere.example/v1/profiles/survivor"}
    statuses = {"erased": 410, "missing": 404, "hidden": 403, "broken": 500, "slow": 504,
                "down": 503, "unsigned": 401}

    @app.get("/v1/profiles/{pid}")
    @app.get("/v1/profiles/{pid}/consent-check")
    async def profile(pid: str) -> Response:
        if pid in moved:
            return JSONResponse({"merged_into": "survivor"}, status_code=308,
                                headers={"Location": moved[pid]})
        if pid in statuses:
            return JSONResponse({}, status_code=statuses[pid])
        if pid == "garbled":
            return PlainTextResponse("<html>", status_code=200)
        return JSONResponse({"id": pid, "granted": True})

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return JSONResponse({"query": request.url.query, "body": await request.json(),
                             "assertion": request.headers.get(ASSERTION_HEADER)})

    return app, asked


@pytest.fixture(params=["in-process", "over-http"])
async def peers(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Peers, list[str]]]:
    """The same peer in process (embedded shape: httpx's ASGI transport) and served by
    uvicorn on loopback (distributed shape: shared.http1)."""
    app, asked = registry_double()
    if request.param == "in-process":
        p = Peers(Settings())
        p.bind_apps({"registry": app})
        yield p, asked
        await p.close()
        return
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    p = Peers(Settings(registry_url=f"http://127.0.0.1:{port}"))
    try:
        yield p, asked
    finally:
        await p.close()
        server.should_exit = True
        await serving


async def get(peers: Peers, path: str, **kw: Any) -> Any:
    return await peers.get_json("registry", path, identity=CALLER, **kw)


async def test_a_merged_profile_is_followed_once_to_its_survivor(
    peers: tuple[Peers, list[str]],
) -> None:
    p, asked = peers
    assert await get(p, "/v1/profiles/merged") == {"id": "survivor", "granted": True}
    # a sub-resource moved with its profile, query string and all
    body = await get(p, "/v1/profiles/merged/consent-check", params={"purpose": "referral"})
    assert body == {"id": "survivor", "granted": True}
    assert asked == ["/v1/profiles/merged", "/v1/profiles/survivor",
                     "/v1/profiles/merged/consent-check?purpose=referral",
                     "/v1/profiles/survivor/consent-check?purpose=referral"]


@pytest.mark.parametrize("pid", ["twice", "absolute"])
async def test_a_second_redirect_or_a_foreign_location_is_503(
    peers: tuple[Peers, list[str]], pid: str,
) -> None:
    p, asked = peers
    with pytest.raises(ServiceUnavailable):
        await get(p, f"/v1/profiles/{pid}")
    assert len(asked) == (2 if pid == "twice" else 1)  # followed once at most


@pytest.mark.parametrize("pid", ["erased", "missing"])
async def test_404_and_410_mean_absent(peers: tuple[Peers, list[str]], pid: str) -> None:
    assert await get(peers[0], f"/v1/profiles/{pid}") is None


@pytest.mark.parametrize("pid", ["hidden", "broken", "unsigned", "garbled"])
async def test_anything_else_is_503(peers: tuple[Peers, list[str]], pid: str) -> None:
    with pytest.raises(PeerAnswerUnexpected) as raised:
        await get(peers[0], f"/v1/profiles/{pid}")
    assert raised.value.status == 503


async def test_the_peers_own_503_and_504_pass_through(peers: tuple[Peers, list[str]]) -> None:
    with pytest.raises(UpstreamTimeout):
        await get(peers[0], "/v1/profiles/slow")
    with pytest.raises(ServiceUnavailable) as down:
        await get(peers[0], "/v1/profiles/down")
    assert not isinstance(down.value, PeerAnswerUnexpected)


async def test_callers_widen_absence_or_name_an_error(peers: tuple[Peers, list[str]]) -> None:
    p, _ = peers
    assert await get(p, "/v1/profiles/hidden", absent=NOT_VISIBLE) is None
    with pytest.raises(Gone):
        await get(p, "/v1/profiles/erased", errors={410: Gone})


async def test_a_credential_filed_under_a_merged_id_lands_on_the_survivor(
    client: Any, auth: Any,
) -> None:
    """Through the system: the credentials service asks the registry as the caller, the
    registry answers 308 for the merged id, and the credential is filed under the survivor."""
    from tests.support.payloads import profile_payload

    made = []
    for extra in ({}, {"given_names": "Maria Jose", "phone": "912345678",
                       "documents": [{"type": "pe_cpp", "number": "009876543"}]}):
        resp = await client.post("/v1/profiles", json=profile_payload(**extra), headers=auth())
        assert resp.status_code == 201, resp.text
        made.append(resp)
    survivor, duplicate = (r.json()["id"] for r in made)
    merged = await client.post(f"/v1/profiles/{survivor}/merge",
                               json={"duplicate_id": duplicate},
                               headers=auth(**{"If-Match": made[0].headers["etag"]}))
    assert merged.status_code == 200, merged.text
    resp = await client.post("/v1/credentials", headers=auth(), json={
        "profile_id": duplicate, "kind": "academic_degree", "title": "Médico Cirujano",
        "field_isced": "0912", "issuer": {"name": "Universidad Central de Venezuela",
                                          "country": "VE"},
        "issued_on": "2015-07-20"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["profile_id"] == survivor


async def test_a_call_carries_the_callers_identity_query_and_body(
    peers: tuple[Peers, list[str]],
) -> None:
    """What the sibling receives, the same in process and over the network: the caller's
    identity asserted, the query encoded as httpx encodes it, the JSON body."""
    resp = await peers[0].request(
        "registry", "POST", "/echo", identity=CALLER,
        params={"purpose": "referral", "n": 2, "ok": True}, json={"note": "Peña"})
    assert resp.status_code == 200
    seen = resp.json()
    assert seen["query"] == "purpose=referral&n=2&ok=true"
    assert seen["body"] == {"note": "Peña"}
    settings = Settings()
    signer = AssertionSigner(settings.internal_secret, settings.identity_assertion_ttl_seconds)
    assert signer.verify(seen["assertion"]).subject == CALLER.subject


async def test_a_sibling_not_listening_is_503() -> None:
    p = Peers(Settings(registry_url=f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(ServiceUnavailable):
            await get(p, "/v1/profiles/anyone")
    finally:
        await p.close()
