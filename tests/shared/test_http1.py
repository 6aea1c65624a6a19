"""Our HTTP/1.1 client between processes (shared.http1) against scripted servers on loopback:
what it reuses, what it never reuses, what it retries, and answers of every framing."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import pytest

from shared.http1 import BUFFERED, Pool, UpstreamClosed, UpstreamUnreachable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Server:
    """Counts connections (and the most open at once); each request is answered by
    ``handler(reader, writer, n)``, ``n`` counting requests across connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Pool:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return Pool("127.0.0.1", port, size=2, connect_timeout=2)

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                await self.handler(reader, writer, len(self.requests))
                if writer.is_closing():
                    return
        finally:
            self.open -= 1
            writer.close()


def answer(body: bytes, *extra: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n" + b"".join(h + b"\r\n" for h in extra)
            + b"\r\n" + body)


async def ok(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
    w.write(answer(b'{"n": %d}' % n))
    await w.drain()


async def get(pool: Pool, method: str = "GET", body: bytes = b"") -> tuple[int, bytes]:
    async with pool.request(method, b"/v1/x?q=1", [(b"x-request-id", b"r1")], body) as a:
        return a.status, await a.read()


async def test_one_connection_carries_one_request_after_another() -> None:
    server = Server(ok)
    async with server as pool:
        got = [await get(pool) for _ in range(5)]
    assert got == [(200, b'{"n": %d}' % n) for n in range(1, 6)]
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"GET /v1/x?q=1 HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"x-request-id: r1\r\n" in first and b"content-length" not in first


async def test_a_body_goes_with_its_length_and_a_post_without_one_says_zero() -> None:
    server = Server(ok)
    async with server as pool:
        await get(pool, "POST", b'{"a": 1}')
        await get(pool, "POST")
    assert server.requests[0].endswith(b'content-length: 8\r\n\r\n{"a": 1}')
    assert server.requests[1].endswith(b"content-length: 0\r\n\r\n")


async def test_never_more_connections_than_the_pool_holds() -> None:
    async def slow(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(0.05)
        await ok(r, w, n)

    server = Server(slow)
    async with server as pool:
        got = await asyncio.gather(*(get(pool) for _ in range(6)))
    assert [status for status, _ in got] == [200] * 6
    assert server.most_open <= 2 and server.connections == 2


async def test_a_get_on_a_connection_the_service_closed_while_idle_is_sent_again() -> None:
    """The service answers, keeps the connection alive, then closes it while idle (uvicorn
    does after its keep-alive timeout): the next GET takes a new connection."""
    async def then_close(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        await ok(r, w, n)
        w.close()

    server = Server(then_close)
    async with server as pool:
        assert await get(pool) == (200, b'{"n": 1}')
        await asyncio.sleep(0.05)  # the close reaches the pool: it is not reused
        assert await get(pool) == (200, b'{"n": 2}')
    assert server.connections == 2


async def test_a_reused_connection_lost_before_answering_retries_a_get_not_a_post() -> None:
    """The race the idle check cannot see: the connection looks open, the request leaves,
    and the service closes without answering. A GET is sent again on a new connection; a
    POST may have been acted on, so its caller is told (and retries with its key)."""
    async def first_then_drop(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                              n: int) -> None:
        if n in (2, 4):  # the second request on each connection: dropped unanswered
            w.transport.abort()
            return
        await ok(r, w, n)

    server = Server(first_then_drop)
    async with server as pool:
        assert await get(pool) == (200, b'{"n": 1}')
        assert await get(pool) == (200, b'{"n": 3}')  # 2 dropped, sent again
        assert server.connections == 2
        with pytest.raises(UpstreamClosed):
            await get(pool, "POST", b"{}")  # 4 dropped: not sent again
    assert len(server.requests) == 4


async def test_a_fresh_connection_lost_before_answering_is_not_retried() -> None:
    async def drop(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> None:
        w.transport.abort()

    server = Server(drop)
    async with server as pool:
        with pytest.raises(UpstreamClosed):
            await get(pool)
    assert len(server.requests) == 1


async def test_chunked_interim_and_close_delimited_answers() -> None:
    async def framed(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        if n in (1, 4):
            w.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"after-continue"))
        elif n == 2:
            w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        else:
            w.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
            await w.drain()
            w.close()
            return
        await w.drain()

    server = Server(framed)
    async with server as pool:
        assert await get(pool) == (200, b"after-continue")
        async with pool.request("GET", b"/", []) as a:
            assert a.length is None
            assert b"".join([c async for c in a.chunks()]) == b"hello world"
        assert await get(pool) == (200, b"until the end")
        assert await get(pool) == (200, b"after-continue")  # a new connection
    assert server.connections == 2


async def test_an_answer_to_head_ends_at_its_head() -> None:
    async def head(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> None:
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")
        await w.drain()

    server = Server(head)
    async with server as pool:
        async with pool.request("HEAD", b"/", []) as a:
            assert (a.status, a.length, await a.read()) == (200, 1234, b"")
        async with pool.request("HEAD", b"/", []) as a:  # not reused: a body might follow
            assert a.status == 200
    assert server.connections == 2


async def test_a_body_left_unread_closes_its_connection() -> None:
    async def late_body(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        body = b'{"n": %d}' % n
        w.write(answer(body)[:-len(body)])
        await w.drain()
        await asyncio.sleep(0.05)
        w.write(body)
        await w.drain()

    server = Server(late_body)
    async with server as pool:
        async with pool.request("GET", b"/", []) as a:
            assert a.status == 200  # the body is not read
        await asyncio.sleep(0)
        assert await get(pool) == (200, b'{"n": 2}')
    assert server.connections == 2


async def test_an_answer_cut_short_or_malformed_is_upstream_closed() -> None:
    async def bad(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 400\r\n\r\n{\"items\": [")
            await w.drain()
            w.close()
        else:
            w.write(b"SMTP ready\r\n\r\n")
            await w.drain()

    server = Server(bad)
    async with server as pool:
        with pytest.raises(UpstreamClosed):
            await get(pool)
        with pytest.raises(UpstreamClosed):
            await get(pool)


async def test_a_large_body_is_paused_at_the_socket_until_the_caller_reads() -> None:
    """Four times ``BUFFERED`` arrives while the caller reads nothing: no more than about
    ``BUFFERED`` (plus the socket's own buffers) is held, and all of it arrives in order."""
    big = bytes(range(256)) * (4 * BUFFERED // 256)

    async def large(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> None:
        w.write(answer(big))
        await w.drain()

    server = Server(large)
    async with server as pool, pool.request("GET", b"/", []) as a:
        await asyncio.sleep(0.2)  # the caller is slow
        held = sum(len(c) for c in a._conn.chunks)
        assert held < 2 * BUFFERED
        got = b"".join([c async for c in a.chunks()])
    assert got == big


async def test_a_connection_idle_longer_than_the_pool_keeps_it_is_not_reused() -> None:
    """The pool lets go of an idle connection before the service would (its keep-alive
    timeout is longer), so a request never leaves on one the service is closing."""
    server = Server(ok)
    async with server as pool:
        pool.keepalive = 0.05
        assert await get(pool) == (200, b'{"n": 1}')
        assert await get(pool) == (200, b'{"n": 2}')  # at once: reused
        await asyncio.sleep(0.1)
        assert await get(pool) == (200, b'{"n": 3}')
    assert server.connections == 2


async def test_no_connection_within_the_connect_timeout_is_unreachable_not_a_timeout() -> None:
    """A service whose accept queue is full (down, overloaded, unreachable): the pool gives
    up after its connect timeout with UpstreamUnreachable, a 503 to retry, not the
    TimeoutError (504) of a service that took too long to answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # never accepted: the queue fills and further SYNs are dropped
    port = listener.getsockname()[1]
    filling = []
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        filling.append(s)
    pool = Pool("127.0.0.1", port, size=2, connect_timeout=0.2)
    try:
        with pytest.raises(UpstreamUnreachable):
            await get(pool)
    finally:
        for s in [*filling, listener]:
            s.close()
