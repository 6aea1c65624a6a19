"""ARCO access: what the registry holds on the person, for the machine-readable export (the
route adds what the other services hold)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.registry.crypto import SensitiveCipher
from services.registry.presenters import READ_GROUPS, audit_dict, consent_dict
from services.registry.repository import ProfileRepository
from services.registry.usecases.records import audit_row, present_profile
from services.registry.usecases.scope import load_visible, require_role
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.db import Database
from shared.identity import Identity, Role


@dataclass
class RegistryExport:
    profile_id: str
    ids: list[str]
    body: dict[str, Any]
    sensitive_included: bool


async def export_ids(*, db: Database, identity: Identity, profile_id: str) -> list[str]:
    """Check the caller may export this person; the ids other services know them by."""
    require_role(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, _ = await load_visible(repo, identity, profile_id, now, owner_only=True)
        return [p.id, *await repo.merged_into(p.id)]


async def export_registry(*, db: Database, identity: Identity, cipher: SensitiveCipher,
                          profile_id: str) -> RegistryExport:
    """What the registry holds on the person (sensitive data only for the owning organisation
    with ``sensitive:read``, and never for a partner's machine client)."""
    require_role(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, access = await load_visible(repo, identity, profile_id, now, owner_only=True)
        include_sensitive = access.sensitive and identity.role is not Role.NGO_PARTNER
        profile = await present_profile(repo, cipher, p, include_sensitive=include_sensitive)
        merged = await repo.merged_into(p.id)
        ids = [p.id, *merged]
        consents = [consent_dict(c, now) for c in await repo.consents_of(p.id)]
        access_log = [audit_dict(r) for r in await repo.audit_all(ids)]
        groups = [*READ_GROUPS, "consents", "audit"] + ["sensitive"] * include_sensitive
        await repo.add_audit([audit_row(identity, p.id, "export", groups, now)])
        await uow.commit()
    return RegistryExport(p.id, ids, {"profile": profile, "consents": consents,
                                      "merged_profile_ids": merged, "access_log": access_log},
                          include_sensitive)
