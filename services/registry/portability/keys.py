"""This deployment's bundle keys: ES256 (P-256) to sign the bundles it sends, RSA-OAEP-256
(3072-bit RSA) to receive the bundles encrypted to it. Private halves sealed at rest with the
data keys; the kid is the RFC 7638 thumbprint. Kept apart from the access-token keys (the
gateway's) and the credential issuer's keys (the credentials service's): a bundle is never a
token and never a credential.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk as jose_jwk
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import DeploymentKey
from shared.clock import utcnow
from shared.crypto import Sealer

SIG, ENC = "sig", "enc"
SIG_ALG, ENC_ALG, ENC_CONTENT = "ES256", "RSA-OAEP-256", "A256GCM"
_THUMB_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def _pem(private: Any) -> bytes:
    return bytes(private.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _thumbprint(public: dict[str, Any]) -> str:
    canonical = orjson.dumps({k: public[k] for k in _THUMB_MEMBERS[public["kty"]]},
                             option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def new_key(sealer: Sealer, use: str) -> DeploymentKey:
    private: Any
    if use == SIG:
        private, alg = ec.generate_private_key(ec.SECP256R1()), SIG_ALG
    else:
        private, alg = rsa.generate_private_key(public_exponent=65537, key_size=3072), ENC_ALG
    pem = _pem(private)
    public = {k: v for k, v in jose_jwk.construct(pem.decode(), alg).public_key().to_dict()
              .items() if k in ("kty", "crv", "x", "y", "n", "e")}
    kid = _thumbprint(public)
    return DeploymentKey(kid=kid, use=use, public_jwk={**public, "kid": kid, "alg": alg,
                                                       "use": use},
                         private_key=sealer.seal(pem, f"deployment_keys:{kid}".encode()),
                         created_at=utcnow(), retired_at=None)


class DeploymentKeys:
    """Key queries inside the caller's transaction (never commits)."""

    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self.session = session
        self.sealer = sealer

    def _private(self, row: DeploymentKey) -> str:
        return self.sealer.unseal(row.private_key, f"deployment_keys:{row.kid}".encode()).decode()

    async def active(self, use: str) -> tuple[str, str]:
        """(kid, private PEM) of the key in use; made on first use."""
        row = await self.session.scalar(
            select(DeploymentKey).where(DeploymentKey.use == use,
                                        DeploymentKey.retired_at.is_(None))
            .order_by(DeploymentKey.created_at.desc(), DeploymentKey.kid).limit(1))
        if row is None:
            # RSA generation takes seconds on a busy machine: never on the event loop
            row = await asyncio.to_thread(new_key, self.sealer, use)
            self.session.add(row)
            await self.session.flush()
        return row.kid, self._private(row)

    async def decryption_key(self, kid: str) -> str | None:
        """The private PEM of one of our encryption keys, retired ones included."""
        if len(kid) > 64:
            return None
        row = await self.session.get(DeploymentKey, kid)
        return self._private(row) if row is not None and row.use == ENC else None

    async def ensure(self) -> None:
        for use in (SIG, ENC):
            await self.active(use)

    async def rotate(self) -> list[str]:
        """Retire the keys in use and make new ones; retired keys stay published (and able
        to decrypt) so bundles made before the rotation still open."""
        await self.session.execute(update(DeploymentKey)
                                   .where(DeploymentKey.retired_at.is_(None))
                                   .values(retired_at=utcnow()))
        rows = [await asyncio.to_thread(new_key, self.sealer, use) for use in (SIG, ENC)]
        self.session.add_all(rows)
        await self.session.flush()
        return [r.kid for r in rows]

    async def jwks(self) -> dict[str, Any]:
        rows = await self.session.scalars(select(DeploymentKey).order_by(
            DeploymentKey.created_at.desc(), DeploymentKey.kid))
        return {"keys": [dict(r.public_jwk) for r in rows]}
