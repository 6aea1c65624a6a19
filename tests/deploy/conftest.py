"""What the deployment contract tests share: fresh PostgreSQL databases, the test identity
provider on loopback, and its RUTA_OIDC_ISSUERS entry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from shared.settings import DATABASES
from tests.gateway.test_oidc import AUDIENCE, ISSUER, IdP, serve_jwks
from tests.support.databases import IS_POSTGRES, PG_URL

PUBLIC_BASE_URL = "https://ruta.example.org"

# deployments run on PostgreSQL: these tests run in the suite's PostgreSQL run only
ON_POSTGRES = pytest.mark.skipif(not IS_POSTGRES, reason="deployments run on PostgreSQL")


@pytest.fixture
def fresh_databases() -> Iterator[dict[str, str]]:
    """URLs of four databases that do not exist yet: the migration jobs create them."""
    tag = f"ruta_deploy_{uuid.uuid4().hex[:8]}"
    urls = {name: f"{PG_URL.rstrip('/')}/{tag}_{name}" for name in DATABASES}
    yield urls
    import asyncio

    import asyncpg

    async def drop() -> None:
        u = make_url(PG_URL)
        conn = await asyncpg.connect(host=u.host, port=u.port or 5432,
                                     user=u.username or "postgres", database="postgres")
        try:
            for url in urls.values():
                name = make_url(url).database
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
def idp() -> Iterator[tuple[IdP, str]]:
    """The test identity provider; yields it and its RUTA_OIDC_ISSUERS value."""
    for provider, jwks_url in serve_jwks(IdP()):
        yield provider, json.dumps([{
            "issuer": ISSUER, "jwks_url": jwks_url,
            "audience": AUDIENCE, "organisations": ["ong-lima"], "roles": ["caseworker"],
            "claims": {"role": "https://ruta/role", "organisation": "https://ruta/org",
                       "regions": "https://ruta/regions",
                       "permissions": "https://ruta/permissions"}}])
