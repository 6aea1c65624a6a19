"""How a service reaches its siblings: by their public API, never their tables.

In the embedded shape the sibling is an ASGI app in the same process (httpx's ASGI transport,
no socket); in the distributed shape it is a base URL. Either way the call carries the
original caller's identity, re-asserted with the internal secret, so the sibling applies the
same object-level rules it would apply to that caller directly.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

from shared.errors import ServiceUnavailable, UpstreamTimeout
from shared.i18n import current_language
from shared.identity import ASSERTION_HEADER, AssertionSigner, Identity
from shared.observability import REQUEST_ID_HEADER, current_request_id
from shared.settings import Settings


class Peers:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._apps: dict[str, ASGIApp] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self.signer = AssertionSigner(settings.internal_secret,
                                      settings.identity_assertion_ttl_seconds)

    def bind_apps(self, apps: dict[str, ASGIApp]) -> None:
        """Embedded shape: reach these siblings in-process."""
        self._apps.update(apps)

    def client(self, name: str) -> httpx.AsyncClient:
        if name not in self._clients:
            timeout = httpx.Timeout(self._settings.upstream_timeout_seconds,
                                    connect=self._settings.upstream_connect_timeout_seconds)
            if name in self._apps:
                self._clients[name] = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=self._apps[name]),
                    base_url=f"http://{name}.internal", timeout=timeout)
            else:
                url = self._settings.upstream_url(name)
                if url is None:
                    raise ServiceUnavailable()
                self._clients[name] = httpx.AsyncClient(base_url=url, timeout=timeout)
        return self._clients[name]

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
        try:
            return await self.client(name).request(method, path, json=json, params=params,
                                                   headers=hdrs)
        except httpx.TimeoutException:
            raise UpstreamTimeout() from None
        except httpx.TransportError:
            raise ServiceUnavailable() from None

    async def close(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()
