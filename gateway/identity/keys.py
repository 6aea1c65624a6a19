"""Our ES256 signing keys for the access tokens of machine clients (and dev tokens).

The private halves are sealed with the data keys. A rotated key keeps verifying until every
token it signed has expired; replicas pick up another replica's rotation on their own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from jose.utils import long_to_base64
from sqlalchemy import select

from gateway.identity.models import Client, SigningKey
from shared.clock import as_utc, utcnow
from shared.crypto import Sealer
from shared.db import Database
from shared.identity import Identity
from shared.settings import Settings

KEY_REFRESH_SECONDS = 30.0

def generate_signing_key(sealer: Sealer) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    numbers = private.public_key().public_numbers()
    kid = "k-" + uuid.uuid4().hex[:16]
    public_jwk = {
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": long_to_base64(numbers.x, size=32).decode(),
        "y": long_to_base64(numbers.y, size=32).decode(),
    }
    return SigningKey(kid=kid, alg="ES256", public_jwk=public_jwk, created_at=utcnow(),
                      private_key=sealer.seal(pem, f"signing_keys:{kid}".encode()))


@dataclass
class _LoadedKey:
    kid: str
    public_jwk: dict[str, str]
    private_pem: str | None
    created_at: float
    retired: bool


class KeyStore:
    """Our signing keys and disabled clients, as this process last read them.

    Replicas share the gateway database: each reloads at most every 30 s, and at once (still
    bounded) when it meets a kid it does not know, so a key rotated by another replica is
    picked up without letting a stream of made-up kids hammer the database.
    """

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._sealer = Sealer.from_settings(settings)
        self._keys: dict[str, _LoadedKey] = {}
        self._disabled_clients: set[str] = set()
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._loaded_at < 1.0:
                return
            async with self._db.uow() as uow:
                rows = (await uow.session.scalars(select(SigningKey))).all()
                disabled = set((await uow.session.scalars(
                    select(Client.id).where(Client.status != "active"))).all())
            publish_after_retire = timedelta(seconds=self._settings.access_token_ttl_seconds * 2)
            keys = {}
            for row in rows:
                retired = row.retired_at is not None
                if retired and as_utc(row.retired_at) + publish_after_retire < utcnow():  # type: ignore[arg-type]
                    continue  # no token it signed can still be valid
                pem = None if retired else self._sealer.unseal(
                    row.private_key, f"signing_keys:{row.kid}".encode()).decode()
                keys[row.kid] = _LoadedKey(row.kid, row.public_jwk, pem,
                                           as_utc(row.created_at).timestamp(), retired)
            self._keys = keys
            self._disabled_clients = disabled
            self._loaded_at = time.monotonic()

    async def maybe_refresh(self) -> None:
        if time.monotonic() - self._loaded_at > KEY_REFRESH_SECONDS:
            await self.refresh()

    def note_disabled(self, client_id: str) -> None:
        self._disabled_clients.add(client_id)

    def is_disabled(self, client_id: str) -> bool:
        return client_id in self._disabled_clients

    def active(self) -> _LoadedKey:
        usable = [k for k in self._keys.values() if not k.retired and k.private_pem]
        if not usable:
            raise RuntimeError("no active signing key: run `ruta migrate` and start the gateway")
        return max(usable, key=lambda k: k.created_at)

    def public(self, kid: str) -> dict[str, str] | None:
        key = self._keys.get(kid)
        return key.public_jwk if key else None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in sorted(self._keys.values(),
                                                      key=lambda k: -k.created_at)]}

    def mint(self, identity: Identity, *, scopes: list[str], ttl: int | None = None) -> str:
        key = self.active()
        now = int(time.time())
        claims = {
            "iss": self._settings.jwt_issuer, "aud": self._settings.jwt_audience,
            "sub": identity.subject, "iat": now, "nbf": now,
            "exp": now + (ttl or self._settings.access_token_ttl_seconds),
            "jti": uuid.uuid4().hex, "role": identity.role.value,
            "org": identity.organisation_id, "regions": sorted(identity.regions),
            "permissions": sorted(identity.permissions), "scope": " ".join(sorted(scopes)),
            "kind": identity.kind,
        }
        assert key.private_pem is not None
        return jwt.encode(claims, key.private_pem, algorithm="ES256",
                          headers={"kid": key.kid, "typ": "at+jwt"})


async def ensure_signing_key(db: Database, settings: Settings) -> bool:
    """Create the first signing key if there is none that signs. True when one was made."""
    async with db.uow() as uow:
        active = await uow.session.scalar(
            select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1))
        if active is not None:
            return False
        uow.session.add(generate_signing_key(Sealer.from_settings(settings)))
        await uow.commit()
        return True


async def rotate_signing_key(db: Database, settings: Settings) -> str:
    """A new key signs from now on; the old ones keep verifying until their tokens expire."""
    async with db.uow() as uow:
        now = utcnow()
        for key in (await uow.session.scalars(
                select(SigningKey).where(SigningKey.retired_at.is_(None)))).all():
            key.retired_at = now
        new = generate_signing_key(Sealer.from_settings(settings))
        uow.session.add(new)
        await uow.commit()
        return new.kid
