"""The issuer's signing keys: ES256 (P-256), private part sealed at rest, rotating.

These are the credentials service's own keys, apart from the gateway's access-token keys: a
verifiable credential is never an access token and an access token never a credential.
The kid is the key's RFC 7638 thumbprint, so it names exactly one public key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.credentials.models import IssuerKey
from shared.clock import utcnow
from shared.crypto import Sealer

ALGORITHM = "ES256"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk_of(public: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big"))}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of an EC public key."""
    canonical = orjson.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")},
                             option=orjson.OPT_SORT_KEYS)
    return b64url(hashlib.sha256(canonical).digest())


def publishable(jwk: dict[str, Any], kid: str) -> dict[str, str]:
    return {**{k: jwk[k] for k in ("kty", "crv", "x", "y")}, "kid": kid, "alg": ALGORITHM,
            "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey


def _aad(kid: str) -> bytes:
    return f"issuer_keys:{kid}".encode()


def new_key(sealer: Sealer) -> tuple[IssuerKey, SigningKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk_of(private.public_key())
    kid = thumbprint(jwk)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    sealed = sealer.seal(der, _aad(kid))
    row = IssuerKey(kid=kid, algorithm=ALGORITHM, public_jwk=publishable(jwk, kid),
                    private_key=sealed, data_key_id=sealer.key_id_of(sealed),
                    created_at=utcnow(), retired_at=None)
    return row, SigningKey(kid, private)


def unseal(row: IssuerKey, sealer: Sealer) -> SigningKey:
    der = sealer.unseal(row.private_key, _aad(row.kid))
    private = serialization.load_der_private_key(der, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):  # pragma: no cover - our own data
        raise ValueError("issuer key is not an EC key")
    return SigningKey(row.kid, private)


class IssuerKeys:
    """Key queries inside the caller's transaction (never commits)."""

    def __init__(self, session: AsyncSession, sealer: Sealer | None = None) -> None:
        self.session = session
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:  # pragma: no cover - a programming error
            raise RuntimeError("signing needs the data keys (Sealer)")
        return self._sealer

    async def active(self) -> SigningKey:
        """The signing key; made on first use when there is none."""
        row = await self.session.scalar(
            select(IssuerKey).where(IssuerKey.retired_at.is_(None))
            .order_by(IssuerKey.created_at.desc(), IssuerKey.kid).limit(1))
        if row is not None:
            return unseal(row, self.sealer)
        row, key = new_key(self.sealer)
        self.session.add(row)
        await self.session.flush()
        return key

    async def rotate(self) -> str:
        """Retire every active key and make a new one; retired keys keep verifying."""
        now = utcnow()
        await self.session.execute(update(IssuerKey).where(IssuerKey.retired_at.is_(None))
                                   .values(retired_at=now))
        row, key = new_key(self.sealer)
        self.session.add(row)
        await self.session.flush()
        return key.kid

    async def public(self, kid: str) -> dict[str, Any] | None:
        if len(kid) > 64:
            return None
        row = await self.session.get(IssuerKey, kid)
        return dict(row.public_jwk) if row is not None else None

    async def all_public(self) -> list[dict[str, Any]]:
        rows = await self.session.scalars(select(IssuerKey).order_by(IssuerKey.created_at.desc(),
                                                                     IssuerKey.kid))
        return [dict(r.public_jwk) for r in rows]
