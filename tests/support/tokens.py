"""Bearer tokens for any caller, signed with the gateway's own key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.edge.policy import SCOPES_BY_ROLE
from gateway.identity.keys import KeyStore
from shared.identity import Identity, Role

TokenFactory = Callable[..., dict[str, str]]


def make_token_factory(token_keys: KeyStore) -> TokenFactory:
    def make(role: str = "caseworker", org: str | None = "ong-lima",
             regions: list[str] | None = None, permissions: list[str] | None = None,
             subject: str | None = None, scopes: list[str] | None = None,
             **extra: Any) -> dict[str, str]:
        r = Role(role)
        human = r in (Role.CASEWORKER, Role.COORDINATOR)
        granted = scopes if scopes is not None else sorted(SCOPES_BY_ROLE.get(r, ()))
        identity = Identity(
            subject=subject or f"test-{role}-{org}", role=r, organisation_id=org,
            regions=frozenset(["PE-LMA", "PE-CAL"] if regions is None else regions),
            permissions=frozenset(permissions or ()), kind="user" if human else "client",
            scopes=None if human else frozenset(granted))
        token = token_keys.mint(identity, scopes=[] if human else granted)
        return {"Authorization": f"Bearer {token}", **extra}

    return make
