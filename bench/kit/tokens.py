"""Callers of every role, as the tests use them (tests/conftest.py make_token_factory), and
their bearer tokens: development tokens signed with the gateway's own key, in the gateway
database the server under test uses."""

from __future__ import annotations

from typing import Any

from kit import app

TOKEN_TTL = 6 * 3600  # outlives any run

ROLE_CALLERS: dict[str, dict[str, Any]] = {
    "caseworker": {"org": "ong-lima", "regions": ["PE-LMA", "PE-CAL"]},
    "coordinator": {"org": "ong-lima", "regions": ["PE-LMA", "PE-CAL"]},
    "ngo_partner": {"org": "ong-lima", "regions": ["PE-LMA", "PE-CAL"]},
    "provider": {"org": "mtpe-empleo", "regions": ["PE-LMA", "PE-CAL"]},
    "ministry_system": {"org": "mtpe-empleo", "regions": ["PE-LMA", "PE-CAL"]},
    "admin": {"org": None, "regions": []},
}


def identity_for(role: str, subject: str | None = None, **overrides: Any) -> Any:
    """The caller of ``role`` (``ROLE_CALLERS``; ``overrides``: org, regions): a person for
    caseworkers and coordinators, a machine client with its role's scopes otherwise."""
    r = app.Role(role)
    spec = {**ROLE_CALLERS[role], **overrides}
    human = r in (app.Role.CASEWORKER, app.Role.COORDINATOR)
    return app.Identity(subject=subject or f"proof-{role}", role=r,
                        organisation_id=spec["org"], regions=frozenset(spec["regions"]),
                        kind="user" if human else "client",
                        scopes=None if human else frozenset(app.SCOPES_BY_ROLE.get(r, ())))


async def mint_tokens(gateway_url: str, identities: dict[str, Any], ttl: int = TOKEN_TTL
                      ) -> dict[str, str]:
    """Bearer tokens signed with the gateway's own key, in the gateway database given."""
    settings = app.Settings()
    db = app.Database(gateway_url)
    try:
        return {name: await app.mint_dev_token(settings, ident, ttl=ttl, database=db)
                for name, ident in identities.items()}
    finally:
        await db.dispose()


async def mint_token(gateway_url: str, identity: Any, ttl: int = TOKEN_TTL) -> str:
    """One caller's bearer token (``mint_tokens``)."""
    return (await mint_tokens(gateway_url, {"one": identity}, ttl))["one"]
