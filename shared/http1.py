"""Our HTTP/1.1 client between our own processes (the gateway forwarding to a service,
:mod:`shared.peers` calling a sibling): keep-alive connections on asyncio protocols,
answers parsed by httptools (llhttp, the parser uvicorn already uses for every request we
serve).

Why not aiohttp's client, which the gateway used until 2026-12-05 (docs/decisions/0001,
0021): for a forwarded profile read, aiohttp's request machinery (request and response
objects, URL handling, timers, stream readers, header multidicts) was about half of the
gateway's CPU per request (py-spy), and the gateway's CPU a third of the distributed read's.
A bare proxy forwarding the read took 149 µs of CPU per request with aiohttp, 82 µs with
this client. Peers used httpx, slower still (decision 0001). The
gateway needs a small part of it: one method, an already-encoded target, headers that are
already bytes, a whole answer or its chunks. Here a request is one ``write`` of bytes built
from the caller's, and an answer is the parser's callbacks filling a list.

What it does:
- one exchange at a time per connection; at most ``size`` connections per service, the
  idle ones kept for ``keepalive`` seconds: less than the service keeps them (uvicorn's
  5 s), so that a request does not leave on a connection the service is closing; one the
  service closed anyway is never reused;
- ``Content-Length`` or chunked answers; a 1xx interim answer is skipped; an answer to HEAD
  ends at its head (the connection is not reused: the parser would wait for a body);
- a large or unbounded body is read chunk by chunk, the socket paused while more than
  ``BUFFERED`` bytes wait for the caller (the caller's slow reader slows the service, not
  the gateway's memory);
- a GET, HEAD or OPTIONS that a reused connection lost before any byte of its answer is sent
  once more on a new connection (the service closed an idle connection as the request
  left); anything else is the caller's to retry;
- a connection that did not finish its exchange (error, timeout, cancellation, a body left
  unread) is closed, never returned to the pool.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from types import TracebackType
from urllib.parse import urlsplit

import httptools

BUFFERED = 256 * 1024
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS"})
WITH_BODY = frozenset({b"POST", b"PUT", b"PATCH"})
# Headers Pool.request writes itself: a caller's are left out
WRITTEN_BY_POOL = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection"})


def parse_base_url(url: str) -> tuple[str, int, str]:
    """``http://host[:port][/path]`` as (host, port, path prefix); anything else (another
    scheme, credentials, a query or fragment, a bad port) is a ValueError. The one rule for
    a service's base URL: Settings refuses to start with one that fails it."""
    parts = urlsplit(url.rstrip("/"))
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: not a port") from None
    if (parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment
            or parts.username is not None or port == 0):
        raise ValueError(f"{url!r}: a service's URL is http://host[:port][/path]")
    return parts.hostname, port or 80, parts.path


class UpstreamClosed(ConnectionError):
    """The connection closed, or the service's answer was malformed, before the answer was
    complete."""


class UpstreamUnreachable(ConnectionError):
    """No connection within the connect timeout: the service is down or unreachable (a
    503 to retry, not the 504 of a service that took too long to answer)."""


class Connection(asyncio.Protocol):
    """One keep-alive connection to a service and the answer being read on it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._reset(head_only=False)

    def _reset(self, *, head_only: bool) -> None:
        self.status = 0
        self.length: int | None = None  # Content-Length, when announced
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.received = False  # any byte of this exchange's answer
        self.error: Exception | None = None
        self.head_only = head_only
        self._interim = False
        self._until_close = False  # neither a length nor chunks: the body ends with the socket
        self._paused = False
        self._head: asyncio.Future[None] = self.loop.create_future()
        self._more: asyncio.Future[None] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamClosed("the service switched protocols"))
        except httptools.HttpParserError:
            self._fail(UpstreamClosed("the service's answer is not HTTP/1.1"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._until_close and exc is None and not self.complete:
            self.complete = True  # a body without length or chunks ends with the connection
            self._wake()
        if not self.complete:
            self._fail(UpstreamClosed("the service closed the connection before answering"))

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        if self.error is None and not self.complete:
            self.error = exc
        if not self._head.done():
            self._head.set_exception(exc)
            self._head.exception()  # retrieved: a caller already gone is not an error
        self._wake()
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        if self._more is not None and not self._more.done():
            self._more.set_result(None)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            self._interim = True
            self.headers = []
            return
        self.status = status
        chunked = False
        for name, value in self.headers:
            if name == b"content-length":
                try:
                    self.length = int(value)
                except ValueError:
                    self.length = None
            elif name == b"transfer-encoding":
                chunked = True
        self._until_close = self.length is None and not chunked
        if self.head_only:  # no body follows, whatever Content-Length says
            self.complete = True
            self.keep_alive = False
        if not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > BUFFERED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # the exchange
    def send(self, request: bytes, *, head_only: bool) -> None:
        self._reset(head_only=head_only)
        assert self.transport is not None
        self.transport.write(request)

    async def head(self) -> None:
        await self._head

    def take(self) -> bytes:
        data = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks = []
        self.buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def wait_more(self) -> None:
        if self.chunks or self.complete or self.error is not None:
            return
        self._more = self.loop.create_future()
        await self._more

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Answer:
    """A service's answer: ``status``, ``headers`` (lower-case names, as bytes) and
    ``length`` (None when not announced); the body by :meth:`read` or :meth:`chunks`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers
        self.length = conn.length

    async def read(self) -> bytes:
        conn = self._conn
        parts = []
        while True:
            await conn.wait_more()
            if conn.error is not None:
                raise conn.error
            parts.append(conn.take())
            if conn.complete:
                return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            await conn.wait_more()
            if conn.error is not None:
                raise conn.error
            data = conn.take()
            if data:
                yield data
            if conn.complete:
                return


class Exchange:
    """``async with pool.request(...) as answer``: the answer's head on entry; on exit the
    connection goes back to the pool only if its answer was read to the end and both sides
    keep it alive."""

    def __init__(self, pool: Pool, method: bytes, request: bytes) -> None:
        self._pool = pool
        self._method = method
        self._request = request
        self._conn: Connection | None = None

    async def __aenter__(self) -> Answer:
        pool = self._pool
        await pool.slots.acquire()
        try:
            conn, reused = await pool.connection()
            self._conn = conn
            conn.send(self._request, head_only=self._method == b"HEAD")
            try:
                await conn.head()
            except UpstreamClosed:
                if not (reused and not conn.received and self._method in IDEMPOTENT):
                    raise
                conn = self._conn = await pool.connect()  # the idle connection was stale
                conn.send(self._request, head_only=self._method == b"HEAD")
                await conn.head()
            return Answer(conn)
        except BaseException:
            self._finish()
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._finish()

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if conn.complete and conn.keep_alive and not conn.closed and conn.error is None:
                self._pool.put_back(conn)
            else:
                conn.close()
        self._pool.slots.release()


class Pool:
    """Keep-alive connections to one service (``host``:``port``), at most ``size``."""

    def __init__(self, host: str, port: int, *, size: int, connect_timeout: float,
                 keepalive: float = 4.0) -> None:
        self.host = host
        self.port = port
        self.authority = (host if port == 80 else f"{host}:{port}").encode("latin-1")
        self.size = size
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self._idle: collections.deque[Connection] = collections.deque()
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def for_url(cls, base_url: str, *, size: int, connect_timeout: float,
                keepalive: float = 4.0) -> tuple[Pool, bytes]:
        """A pool to the service at ``base_url`` (parse_base_url) and the path prefix its
        requests' targets start with."""
        host, port, prefix = parse_base_url(base_url)
        pool = cls(host, port, size=size, connect_timeout=connect_timeout,
                   keepalive=keepalive)
        return pool, prefix.encode("latin-1")

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:  # made in the loop that uses it
            self._slots = asyncio.Semaphore(self.size)
        return self._slots

    def request(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                body: bytes = b"") -> Exchange:
        """``target`` is the path and query as sent (already encoded); ``headers`` must not
        hold any of WRITTEN_BY_POOL (the pool writes its own)."""
        verb = method.encode("ascii")
        parts = [verb, b" ", target, b" HTTP/1.1\r\nhost: ", self.authority, b"\r\n"]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        if body or verb in WITH_BODY:
            parts.append(b"content-length: %d\r\n" % len(body))
        parts += (b"\r\n", body)
        return Exchange(self, verb, b"".join(parts))

    async def connection(self) -> tuple[Connection, bool]:
        """An idle connection still open and fresh (True), else a new one (False)."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the likeliest still open
            if not conn.closed and now - conn.idle_since < self.keepalive:
                return conn, True
            conn.close()
        return await self.connect(), False

    async def connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            _transport, conn = await asyncio.wait_for(
                loop.create_connection(Connection, self.host, self.port),
                self.connect_timeout)
        except TimeoutError:
            raise UpstreamUnreachable(f"no connection in {self.connect_timeout} s") from None
        return conn

    def put_back(self, conn: Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
