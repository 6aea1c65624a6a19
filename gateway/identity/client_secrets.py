"""Machine-client secrets: made here, stored only as argon2 hashes, checked off the loop."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.identity.models import Client
from shared.clock import as_utc, utcnow

_hasher = PasswordHasher()
# Verified against when the client does not exist, so timing does not reveal which ids exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


def new_client_secret() -> str:
    return "rsec_" + secrets.token_urlsafe(32)


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(_hasher.hash, secret)


async def secret_matches(secret: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return await asyncio.to_thread(_hasher.verify, hashed, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def client_secret_matches(client: Client | None, secret: str) -> bool:
    """The current secret, or the previous one while its rotation overlap lasts. An unknown
    client costs the same hash check as a known one."""
    if client is None:
        await secret_matches(secret, _DUMMY_HASH)
        return False
    if await secret_matches(secret, client.secret_hash):
        return True
    return client.previous_secret_expires_at is not None \
        and as_utc(client.previous_secret_expires_at) > utcnow() \
        and await secret_matches(secret, client.previous_secret_hash)
