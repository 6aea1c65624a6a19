"""Development tokens for the demo identities and tests: minted with the gateway's own
signing key, so they are verified exactly like issued ones. Refused in production."""

from __future__ import annotations

from gateway.edge.policy import SCOPES_BY_ROLE
from gateway.identity.keys import KeyStore, ensure_signing_key
from shared.db import Database
from shared.identity import Identity
from shared.settings import Settings


async def mint_dev_token(settings: Settings, identity: Identity, *, ttl: int | None = None,
                         database: Database | None = None) -> str:
    if settings.is_production:
        raise RuntimeError("development tokens are disabled in production")
    db = database or Database(settings.database_url("gateway"))
    try:
        await ensure_signing_key(db, settings)
        keys = KeyStore(db, settings)
        await keys.refresh(force=True)
        return keys.mint(identity, scopes=sorted(SCOPES_BY_ROLE.get(identity.role, ())),
                         ttl=ttl)
    finally:
        if database is None:
            await db.dispose()
