"""The peer deployments this one trusts (RUTA_PEER_DEPLOYMENTS) and their bundle keys,
fetched and cached like an OIDC issuer's (shared.jwks)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import orjson
import structlog

from services.registry.portability.keys import ENC, ENC_ALG
from shared.jwks import RemoteJwks
from shared.peer_deployments import PeerDeployment, parse_peers
from shared.settings import Settings
from shared.standard_webhooks import headers as signed_headers

log = structlog.get_logger("ruta.transfers")


class PeerTrust:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.me = settings.deployment_id
        self.country = settings.deployment_country
        self.issuer = settings.public_base_url.rstrip("/")
        self.peers = parse_peers(settings.peer_deployments)
        self._by_issuer = {p.issuer: p for p in self.peers.values()}
        self._jwks = {p.id: RemoteJwks(p.jwks_url, p.id) for p in self.peers.values()}
        self.http = http or httpx.AsyncClient(timeout=15.0, follow_redirects=False)
        try:
            secrets = json.loads(settings.peer_callback_secrets or "{}")
        except ValueError:
            secrets = {}
        self._callback_secrets = {str(k): str(v) for k, v in secrets.items()} \
            if isinstance(secrets, dict) else {}

    def peer(self, peer_id: str) -> PeerDeployment | None:
        return self.peers.get(peer_id)

    def by_issuer(self, issuer: str) -> PeerDeployment | None:
        return self._by_issuer.get(issuer.rstrip("/"))

    async def signing_key(self, peer: PeerDeployment, kid: str) -> dict[str, Any] | None:
        key = await self._jwks[peer.id].key(kid, self.http)
        return key if key is not None and key.get("use", "sig") == "sig" else None

    async def encryption_key(self, peer: PeerDeployment) -> dict[str, Any] | None:
        """The peer's newest published encryption key (its JWKS lists the newest first)."""
        keys = await self._jwks[peer.id].refresh(self.http)
        for key in keys.values():
            if key.get("use") == ENC and key.get("alg") == ENC_ALG and key.get("kty") == "RSA":
                return key
        return None

    async def notify_arrival(self, peer: PeerDeployment, *, bundle_id: str,
                             imported_at: str) -> str:
        """Tell the origin its person arrived: a signed inbound callback (Standard Webhooks,
        the secret of the source the origin registered for us). Only ids travel.
        ``notified``, ``failed`` (try again by importing the same bundle: a replay retries)
        or ``not_configured`` (no inbound URL or secret for that peer)."""
        secret = self._callback_secrets.get(peer.id)
        if peer.inbound_url is None or secret is None:
            return "not_configured"
        body = orjson.dumps({"type": "transfer.imported", "data": {
            "bundle_id": bundle_id, "deployment": self.me, "imported_at": imported_at}})
        msg_id = f"transfer-{bundle_id}-{uuid.uuid4().hex[:8]}"
        try:
            resp = await self.http.post(peer.inbound_url, content=body, headers=signed_headers(
                secret, msg_id, int(time.time()), body))
        except httpx.HTTPError:
            log.warning("transfer_callback_failed", peer=peer.id, bundle_id=bundle_id)
            return "failed"
        if resp.status_code >= 300:
            log.warning("transfer_callback_refused", peer=peer.id, bundle_id=bundle_id,
                        status=resp.status_code)
            return "failed"
        return "notified"

    async def close(self) -> None:
        await self.http.aclose()
