"""A remote JWKS read and cached: the keys of a trusted OIDC issuer, of a peer deployment
(its bundle keys and its credential issuer's keys). One implementation, so every remote key
set obeys the same rules: keys come only from the configured URL (never from a token's
``jku``/``x5u``), an unknown ``kid`` triggers at most one fetch a minute (a stream of
made-up kids cannot hammer the other side), and a failed fetch keeps the keys we had.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

log = structlog.get_logger("ruta.jwks")

JWKS_REFRESH_SECONDS = 60.0


@dataclass
class RemoteJwks:
    """The keys published at ``url`` by kid, as last fetched."""

    url: str
    name: str  # who publishes them, for the log (an issuer or peer id, never a person)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def key(self, kid: str, http: httpx.AsyncClient) -> dict[str, Any] | None:
        if kid in self.keys:
            return self.keys[kid]
        async with self.lock:
            # refresh on an unknown kid, at most once a minute (bounded outbound calls)
            if kid not in self.keys and time.monotonic() - self.fetched_at > JWKS_REFRESH_SECONDS:
                self.fetched_at = time.monotonic()
                try:
                    resp = await http.get(self.url)
                    resp.raise_for_status()
                    self.keys = {k["kid"]: k for k in resp.json().get("keys", [])
                                 if isinstance(k, dict) and "kid" in k}
                except (httpx.HTTPError, ValueError, TypeError, AttributeError):
                    log.warning("jwks_fetch_failed", issuer=self.name)
        return self.keys.get(kid)

    async def refresh(self, http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
        """Every key as published now (an outgoing bundle needs the newest encryption key,
        which has no kid to ask for yet); a failed fetch keeps what we had."""
        async with self.lock:
            self.fetched_at = time.monotonic()
            try:
                resp = await http.get(self.url)
                resp.raise_for_status()
                self.keys = {k["kid"]: k for k in resp.json().get("keys", [])
                             if isinstance(k, dict) and "kid" in k}
            except (httpx.HTTPError, ValueError, TypeError, AttributeError):
                log.warning("jwks_fetch_failed", issuer=self.name)
        return dict(self.keys)
