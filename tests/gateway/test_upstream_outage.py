"""A service that is down, starting or restarting, seen through the distributed gateway (HTTP
upstreams): every way its connection can fail is a 503 problem with ``Retry-After`` so that
clients retry, never a 500, and that includes the merged ``/openapi.json``."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.edge.upstreams import HTTPUpstream, Upstream
from services.registry.app import create_app as create_registry
from shared.db import Database
from shared.settings import Settings
from tests.support.live import free_port
from tests.support.tokens import TokenFactory

Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]


async def _close(writer: asyncio.StreamWriter) -> None:
    """The process stops between reading the request and answering it."""
    writer.close()


async def _reset(writer: asyncio.StreamWriter) -> None:
    """The connection is reset (RST) instead of answered."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def _cut_mid_body(writer: asyncio.StreamWriter) -> None:
    """The status line and headers arrive, the body stops short of its Content-Length."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 400\r\n\r\n{\"items\": [")
    await writer.drain()
    writer.close()


def _answer(body: bytes) -> Reply:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    return reply


async def _serve(port: int, reply: Reply) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reply(writer)

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def _gateway(tmp_path: Path, dbs: dict[str, Database], port: int
                   ) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path, background_tasks=False)
    upstreams: dict[str, Upstream] = {"registry": HTTPUpstream(
        "registry", f"http://127.0.0.1:{port}", timeout=5, connect_timeout=1, pool_size=4)}
    app = create_app(settings, dbs["gateway"], upstreams)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ruta.test") as c:
            yield c


def _is_retryable_problem(resp: httpx.Response) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["title"] == "Servicio no disponible"
    assert int(resp.headers["retry-after"]) >= 1


@pytest.mark.parametrize("reply", [None, _close, _reset, _cut_mid_body],
                         ids=["refused", "closed", "reset", "cut-mid-body"])
async def test_a_service_failing_its_connection_is_a_503_problem_to_retry(
    tmp_path: Path, dbs: dict[str, Database], auth: TokenFactory, reply: Reply | None
) -> None:
    port = free_port()
    server = None if reply is None else await _serve(port, reply)
    try:
        async for client in _gateway(tmp_path, dbs, port):
            _is_retryable_problem(await client.get("/v1/profiles", headers=auth()))
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()


async def test_the_api_document_while_a_service_is_down_is_a_503_then_whole_once_it_is_up(
    tmp_path: Path, dbs: dict[str, Database]
) -> None:
    """The document merges every service's: asked while one is down (restarting, say) it
    is a problem to retry, not a 500, and it is whole once that service answers again."""
    registry_doc = orjson.dumps(create_registry(Settings(data_dir=tmp_path)).openapi())
    port = free_port()
    async for client in _gateway(tmp_path, dbs, port):
        _is_retryable_problem(await client.get("/openapi.json"))
        server = await _serve(port, _close)  # listening, not answering yet
        try:
            _is_retryable_problem(await client.get("/openapi.json"))
        finally:
            server.close()
            await server.wait_closed()
        server = await _serve(port, _answer(registry_doc))
        try:
            whole = await client.get("/openapi.json")
        finally:
            server.close()
            await server.wait_closed()
    assert whole.status_code == 200
    listing = whole.json()["paths"]["/v1/profiles"]["get"]
    assert "Retry-After" in listing["responses"]["503"]["headers"]  # declared as sent
