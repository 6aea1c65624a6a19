"""How a service reaches its siblings: by their public API, never their tables.

In the embedded shape the sibling is an ASGI app in the same process (httpx's ASGI transport,
no socket); in the distributed shape it is a base URL, reached over our own keep-alive
client (shared.http1) and answered as an ``httpx.Response`` all the same. Either way the
call carries the original caller's identity, re-asserted with the internal secret, so the
sibling applies the same object-level rules it would apply to that caller directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

import httpx
import structlog
from starlette.types import ASGIApp

from shared.errors import AppError, ServiceUnavailable, UpstreamTimeout
from shared.http1 import WRITTEN_BY_POOL, Pool
from shared.i18n import current_language
from shared.identity import ASSERTION_HEADER, AssertionSigner, Identity
from shared.observability import REQUEST_ID_HEADER, current_request_id
from shared.settings import Settings
from shared.tracing import client_span

log = structlog.get_logger("ruta.peers")

# What a peer's answer means when the caller did not say otherwise: the object is not there
# for this caller (never visible, or erased).
ABSENT = frozenset({404, 410})
# A person's data asked as the caller: a role that may not read it at all (403) is, for the
# asking service, the same as a person outside the caller's scope.
NOT_VISIBLE = ABSENT | {403}


class PeerAnswerUnexpected(ServiceUnavailable):
    """The peer answered, but not as its contract says (a 500, a 401, a body that is not
    JSON): still a 503 for our caller, told apart for those who report it as a 502."""


class Peers:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._apps: dict[str, ASGIApp] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._pools: dict[str, tuple[str, Pool]] = {}
        self.signer = AssertionSigner(settings.internal_secret,
                                      settings.identity_assertion_ttl_seconds)

    def bind_apps(self, apps: dict[str, ASGIApp]) -> None:
        """Embedded shape: reach these siblings in-process."""
        self._apps.update(apps)

    def client(self, name: str) -> httpx.AsyncClient:
        """A sibling in this process (embedded shape): httpx over its ASGI app."""
        if name not in self._clients:
            timeout = httpx.Timeout(self._settings.upstream_timeout_seconds,
                                    connect=self._settings.upstream_connect_timeout_seconds)
            self._clients[name] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self._apps[name]),
                base_url=f"http://{name}.internal", timeout=timeout)
        return self._clients[name]

    def pool(self, name: str) -> tuple[str, Pool]:
        """A sibling over the network (distributed shape): its base URL and keep-alive
        connections (shared.http1; httpx's client cost several times more CPU per call)."""
        if name not in self._pools:
            url = self._settings.upstream_url(name)  # checked by Settings (parse_base_url)
            if url is None:
                raise ServiceUnavailable()
            pool, _prefix = Pool.for_url(
                url, size=self._settings.upstream_pool_size,
                connect_timeout=self._settings.upstream_connect_timeout_seconds,
                keepalive=self._settings.upstream_keepalive_seconds)
            self._pools[name] = (url, pool)  # the prefix is in url: requests start from it
        return self._pools[name]

    async def request(
        self, name: str, method: str, path: str, *, identity: Identity,
        json: Any = None, params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Call a sibling as ``identity``. Unreachable or timing out → 503/504 problems."""
        hdrs = {ASSERTION_HEADER: self.signer.sign(identity).decode(),
                "accept-language": current_language(), **(headers or {})}
        if (rid := current_request_id()) is not None:
            hdrs[REQUEST_ID_HEADER.decode()] = rid
        if name in self._apps:
            try:
                return await self.client(name).request(method, path, json=json,
                                                       params=params, headers=hdrs)
            except httpx.TimeoutException:
                raise UpstreamTimeout() from None
            except httpx.TransportError:
                raise ServiceUnavailable() from None
        base, pool = self.pool(name)
        # httpx encodes the query and the JSON body as before; the pool sends them
        request = httpx.Request(method, base + path, params=params, json=json, headers=hdrs)
        body = request.read()
        sent = [(k, v) for k, v in request.headers.raw if k.lower() not in WRITTEN_BY_POOL]
        try:
            with client_span(method, str(request.url)) as call:
                async with asyncio.timeout(self._settings.upstream_timeout_seconds), \
                        pool.request(method, request.url.raw_path, sent + call.headers,
                                     body) as answer:
                    call.answered(answer.status)
                    content = await answer.read()
        except TimeoutError:
            raise UpstreamTimeout() from None
        except OSError:  # refused, reset, closed before answering (shared.http1)
            raise ServiceUnavailable() from None
        return httpx.Response(answer.status, headers=answer.headers, content=content,
                              request=request)

    async def get_json(
        self, service: str, path: str, *, identity: Identity,
        params: dict[str, Any] | None = None, absent: Collection[int] = ABSENT,
        errors: Mapping[int, type[AppError]] | None = None,
    ) -> Any | None:
        """GET a peer's resource as ``identity``: its JSON body, or None when it is absent.

        The one reading of a peer's answer that every adapter shares:
        - 200 → the decoded body (not JSON → 503);
        - a status in ``absent`` (404 and 410 unless the caller says otherwise) → None;
        - a status in ``errors`` → that error (a caller that must tell "erased" apart);
        - 308 (a merged profile points to its survivor) → followed once: the resource's
          sub-resources moved with it, so ``/v1/profiles/A/consent-check`` answered with
          ``Location: /v1/profiles/B`` is asked again as ``/v1/profiles/B/consent-check``;
          a second redirect, or a Location that is not a path of this peer, is a 503;
        - 504 → 504; anything else → 503 (:class:`PeerAnswerUnexpected` unless the peer
          itself said 503): never a guess on partial information.
        """
        resp = await self.request(service, "GET", path, identity=identity, params=params)
        if resp.status_code == 308:
            moved = _moved_path(path, resp.headers.get("location"))
            if moved is not None:
                resp = await self.request(service, "GET", moved, identity=identity,
                                          params=params)
        if errors and resp.status_code in errors:
            raise errors[resp.status_code]()
        if resp.status_code in absent:
            return None
        if resp.status_code == 200:
            try:
                return resp.json()
            except ValueError:
                raise PeerAnswerUnexpected() from None
        if resp.status_code == 504:
            raise UpstreamTimeout()
        if resp.status_code == 503:
            raise ServiceUnavailable()
        log.warning("peer_unexpected_status", service=service, status=resp.status_code)
        raise PeerAnswerUnexpected()

    async def close(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()
        for _base, pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _moved_path(path: str, location: str | None) -> str | None:
    """Where ``path`` went when the resource named by ``location`` moved: the same number of
    leading segments is replaced, the rest (a sub-resource) kept. None when ``location`` is
    not a plain path on this peer."""
    if not location or not location.startswith("/") or location.startswith("//") \
            or "?" in location:
        return None
    target = location.rstrip("/").split("/")
    old = path.split("/")
    if len(old) < len(target):
        return None
    return "/".join([*target, *old[len(target):]])
