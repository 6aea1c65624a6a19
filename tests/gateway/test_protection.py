"""Front-door protections: rate limits, size limits, security headers, CORS, request ids."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.identity.keys import KeyStore
from ruta.distributed import ROOT, free_port, wait_healthy
from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.redis import REDIS_URL, require_redis
from tests.support.tokens import TokenFactory

TIGHT = '{"read": {"capacity": 3, "window_seconds": 60}}'


@pytest.fixture
async def tight_client(dbs: dict[str, Database]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(rate_limits=TIGHT, cors_origins="https://app.ruta.test",
                        max_body_bytes=2048, max_header_bytes=4096)
    app: FastAPI = create_embedded_app(settings, dbs)
    async with (
        app.router.lifespan_context(app),
        contract_client(app) as c,
    ):
        yield c


async def test_rate_limit_in_memory_answers_429_with_headers(
    tight_client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    headers = auth(subject=f"rl-{uuid.uuid4().hex}")
    statuses = []
    for _ in range(4):
        resp = await tight_client.get("/v1/programs", headers=headers)
        statuses.append(resp.status_code)
    assert statuses == [200, 200, 200, 429]
    assert resp.headers["content-type"] == "application/problem+json"
    assert int(resp.headers["retry-after"]) >= 1
    assert resp.headers["ratelimit-policy"] == '"read";q=3;w=60'
    assert resp.headers["ratelimit"].startswith('"read";r=0;t=')
    # another client has its own bucket
    other = await tight_client.get("/v1/programs", headers=auth(subject="someone-else"))
    assert other.status_code == 200
    assert other.headers["ratelimit"].startswith('"read";r=2;')


@pytest.mark.invalid_request
async def test_size_limits_and_security_headers(tight_client: httpx.AsyncClient,
                                                auth: TokenFactory) -> None:
    big = await tight_client.post("/v1/profiles", content=b"{" + b" " * 4000 + b"}",
                                  headers=auth(**{"Content-Type": "application/json"}))
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    streamed = await tight_client.post("/v1/profiles", content=chunks(),
                                       headers=auth(**{"Content-Type": "application/json"}))
    assert streamed.status_code == 413

    huge_headers = await tight_client.get("/v1/programs",
                                          headers=auth(**{"X-Padding": "x" * 5000}))
    assert huge_headers.status_code == 431

    ok = await tight_client.get("/healthz")
    for name in ("x-content-type-options", "x-frame-options", "referrer-policy",
                 "content-security-policy", "cache-control", "strict-transport-security"):
        assert name in ok.headers, name
    assert ok.headers["x-content-type-options"] == "nosniff"


async def test_cors_only_for_configured_origins(tight_client: httpx.AsyncClient) -> None:
    preflight = await tight_client.options("/v1/profiles", headers={
        "Origin": "https://app.ruta.test", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Idempotency-Key"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.ruta.test"
    stranger = await tight_client.options("/v1/profiles", headers={
        "Origin": "https://evil.test", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in stranger.headers


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert unsafe.headers["x-request-id"] != "bad id with spaces"
    assert len(unsafe.headers["x-request-id"]) == 32


@pytest.fixture
def two_gateways(database_urls: dict[str, str], tmp_path: Path) -> Iterator[list[str]]:
    """Two embedded processes sharing the suite's databases and one Redis."""
    require_redis()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    env.update({f"RUTA_{n.upper()}_DATABASE_URL": u for n, u in database_urls.items()})
    env.update({"RUTA_REDIS_URL": REDIS_URL, "RUTA_RATE_LIMITS":
                '{"read": {"capacity": 5, "window_seconds": 600}}', "RUTA_LOG_LEVEL": "WARNING"})
    procs, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            log = (tmp_path / f"gw-{port}.log").open("wb")
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "ruta.asgi:embedded",
                 "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                stdout=log, stderr=log)
            procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
            wait_healthy(urls[-1], proc=proc)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.mark.slow
async def test_rate_limit_is_shared_through_redis(two_gateways: list[str],
                                                  token_keys: KeyStore,
                                                  auth: TokenFactory) -> None:
    headers = auth(subject=f"shared-{uuid.uuid4().hex}")
    statuses = []
    async with httpx.AsyncClient(timeout=10) as c:
        for i in range(8):
            resp = await c.get(f"{two_gateways[i % 2]}/v1/me", headers=headers)
            statuses.append(resp.status_code)
    assert statuses.count(200) == 5, statuses
    assert statuses[5:] == [429, 429, 429]
