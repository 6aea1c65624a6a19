"""The distributed shape as real processes on loopback: gateway → HTTP → each service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.identity.keys import KeyStore, ensure_signing_key
from ruta.distributed import DistributedSystem, prepare_databases
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.databases import TempDatabases
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory, make_token_factory

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def distributed_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    temp = TempDatabases(Path(tmp_path_factory.mktemp("dist")), "dist")
    urls = await temp.create()
    await prepare_databases(urls)
    yield urls  # type: ignore[misc]
    await temp.drop()


@pytest.fixture(scope="module")
async def dist_keys(distributed_urls: dict[str, str]) -> AsyncIterator[KeyStore]:
    db = Database(distributed_urls["gateway"])
    await ensure_signing_key(db, Settings())
    keys = KeyStore(db, Settings())
    await keys.refresh(force=True)
    yield keys
    await db.dispose()


@pytest.fixture
def auth(dist_keys: KeyStore) -> TokenFactory:
    """Tokens signed by the distributed gateway's own key (its database, not the suite's)."""
    return make_token_factory(dist_keys)


@pytest.fixture(scope="module")
def system(distributed_urls: dict[str, str], dist_keys: KeyStore,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedSystem]:
    s = DistributedSystem(distributed_urls, env={"RUTA_UPSTREAM_TIMEOUT_SECONDS": "5"},
                          log_dir=Path(tmp_path_factory.mktemp("logs")))
    with s.running():
        yield s


async def test_requests_reach_every_service_through_the_gateway(
    system: DistributedSystem, auth: TokenFactory
) -> None:
    async with contract_client(base_url=system.url("gateway"), timeout=10) as c:
        created = await c.post("/v1/profiles", json=profile_payload(), headers=auth())
        assert created.status_code == 201, created.text
        profile_id = created.json()["id"]
        read = await c.get(f"/v1/profiles/{profile_id}", headers=auth())
        assert read.status_code == 200 and read.headers["etag"] == '"v1"'
        assert read.headers["x-request-id"]
        # the gateway's own Date, once (the service's was passed on too), and no banner
        assert len(read.headers.get_list("date")) == 1 and "server" not in read.headers

        programmes = await c.get("/v1/programs", params={"country": "EC"}, headers=auth())
        assert programmes.status_code == 200
        assert {p["country"] for p in programmes.json()["items"]} == {"EC"}

        credential = await c.post("/v1/credentials", headers=auth(), json={
            "profile_id": profile_id, "kind": "academic_degree", "title": "Licenciada en "
            "Enfermería"})
        assert credential.status_code == 201, credential.text

        doc = (await c.get("/openapi.json")).json()
        assert {"/v1/profiles", "/v1/programs", "/v1/credentials"} <= set(doc["paths"])

        rid = "trace-me-123"
        traced = await c.get("/v1/programs", headers=auth(**{"X-Request-ID": rid}))
        assert traced.headers["x-request-id"] == rid


async def test_a_service_called_directly_without_the_gateway_is_401(
    system: DistributedSystem, auth: TokenFactory
) -> None:
    async with httpx.AsyncClient(base_url=system.url("registry"), timeout=10) as c:
        direct = await c.post("/v1/profiles", json=profile_payload(), headers=auth())
        assert direct.status_code == 401
        assert direct.headers["content-type"] == "application/problem+json"


async def test_stopped_service_gives_503_problem_fast_then_recovers(
    system: DistributedSystem, auth: TokenFactory
) -> None:
    async with contract_client(base_url=system.url("gateway"), timeout=10) as c:
        # answered while up (the client reads the API document it checks answers against
        # now: the whole document needs every service, tests/gateway/test_upstream_outage.py)
        assert (await c.get("/v1/profiles", headers=auth())).status_code == 200
    system.stop_one("registry")
    try:
        async with contract_client(base_url=system.url("gateway"), timeout=10) as c:
            started = time.monotonic()
            down = await c.get("/v1/profiles", headers=auth())
            elapsed = time.monotonic() - started
            assert down.status_code == 503
            assert down.headers["content-type"] == "application/problem+json"
            assert down.json()["title"] == "Servicio no disponible"
            assert int(down.headers["retry-after"]) >= 1
            assert elapsed < 5, "a refused connection must not wait for the timeout"
            # the other services keep answering
            assert (await c.get("/v1/programs", headers=auth())).status_code == 200
    finally:
        system.start_one("registry")
    async with contract_client(base_url=system.url("gateway"), timeout=10) as c:
        assert (await c.get("/v1/profiles", headers=auth())).status_code == 200


async def test_gateway_counts_forwarded_requests_under_the_service_template(
    system: DistributedSystem, auth: TokenFactory
) -> None:
    """issue 18: the gateway labels a forwarded request with the template the service
    matched (told by a response header it removes), never its own prefix pattern."""
    async with contract_client(base_url=system.url("gateway"), timeout=10) as c:
        missing = await c.get("/v1/profiles/00000000-0000-4000-8000-000000000000",
                              headers=auth())
        assert missing.status_code == 404 and "x-ruta-route" not in missing.headers
        refused = await c.get("/v1/profiles/00000000-0000-4000-8000-000000000000")
        assert refused.status_code == 401  # refused at the front door, never forwarded
        exposed = (await c.get("/metrics")).text
    assert ('route="/v1/profiles/{profile_id}",service="gateway",status="404"' in exposed
            or 'service="gateway",method="GET",route="/v1/profiles/{profile_id}"' in exposed)
    assert 'route="/v1/profiles/{profile_id}",service="gateway",status="401"' in exposed
    assert "{rest:path}" not in exposed


async def test_concurrent_reads_are_each_in_the_audit_trail_once(
    system: DistributedSystem, auth: TokenFactory
) -> None:
    """Every answered read is in the person's audit trail, once, under its own request id,
    however many are in flight together."""
    async with contract_client(base_url=system.url("gateway"), timeout=10) as c:
        created = await c.post("/v1/profiles", json=profile_payload(), headers=auth())
        assert created.status_code == 201, created.text
        profile_id = created.json()["id"]
        ids = [f"read-together-{i}" for i in range(30)]
        reads = await asyncio.gather(*(
            c.get(f"/v1/profiles/{profile_id}", headers=auth(**{"X-Request-ID": rid}))
            for rid in ids))
        assert [r.status_code for r in reads] == [200] * len(ids)
        trail = await c.get(f"/v1/profiles/{profile_id}/audit", params={"limit": 100},
                            headers=auth(role="coordinator"))
        assert trail.status_code == 200, trail.text
    read_ids = [e["request_id"] for e in trail.json()["items"] if e["action"] == "read"]
    assert sorted(read_ids) == sorted(ids)
