"""Merging a person registered twice: the survivor keeps everything of both."""

from __future__ import annotations

from typing import Any

from services.registry.crypto import SensitiveCipher
from services.registry.errors import MergeNotPossible
from services.registry.models import Profile, ProfileStatus
from services.registry.presenters import SCALAR_FIELDS, dumps
from services.registry.repository import ProfileRepository
from services.registry.schemas.profiles import MergeIn
from services.registry.usecases.cancellation import pseudonymise
from services.registry.usecases.records import (
    audit_row,
    decrypt_sensitive,
    present_profile,
    profile_event,
)
from services.registry.usecases.scope import load_visible, require_role
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion
from shared.db import Database
from shared.errors import PreconditionFailed
from shared.identity import Identity

_MERGE_FILL = (*SCALAR_FIELDS,)


async def merge_profiles(*, db: Database, identity: Identity, survivor_id: str, data: MergeIn,
                         expected: ExpectedVersion, cipher: SensitiveCipher
                         ) -> tuple[bytes, int]:
    """Keep the survivor; move the duplicate's documents, consents and history to it; fill
    the survivor's empty fields from the duplicate; leave the duplicate as a pointer."""
    require_role(identity, CASELOAD_ROLES)
    if data.duplicate_id == survivor_id:
        raise MergeNotPossible()
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        survivor, access = await load_visible(repo, identity, survivor_id, now,
                                              owner_only=True)
        expected.check(survivor.version)
        dup, _ = await load_visible(repo, identity, data.duplicate_id, now, owner_only=True)
        if data.duplicate_version is not None and dup.version != data.duplicate_version:
            raise PreconditionFailed()
        changed = _fill_from(survivor, dup)
        sensitive_changed = _merge_sensitive_of(cipher, survivor, dup)
        moved_docs, moved_consents = await repo.move_children(dup.id, survivor.id)
        changed += ["documents"] * bool(moved_docs) + ["consents"] * bool(moved_consents)
        pseudonymise(dup, now)
        dup.status = ProfileStatus.MERGED
        dup.merged_into = survivor.id
        dup.updated_at = now
        survivor.updated_at = now
        await uow.session.flush()
        uow.emit(profile_event("profile.merged", dup, {"merged_into": survivor.id}))
        public = sorted(f for f in changed if f != "sensitive")
        if public:
            uow.emit(profile_event("profile.updated", survivor, {"changed_fields": public}))
        await repo.add_audit([
            audit_row(identity, survivor.id, "merge",
                      changed + ["sensitive"] * sensitive_changed, now),
            audit_row(identity, dup.id, "merged_into", [], now)])
        body = await present_profile(repo, cipher, survivor, include_sensitive=access.sensitive)
        await uow.commit()
    return dumps(body), survivor.version


def _fill_from(survivor: Profile, dup: Profile) -> list[str]:
    """The survivor's empty fields filled from the duplicate, lists united; the names."""
    changed: list[str] = []
    for name in _MERGE_FILL:
        mine, theirs = getattr(survivor, name), getattr(dup, name)
        if name in ("languages", "skills") and theirs:
            union = list(dict.fromkeys([*(mine or []), *theirs]))
            if union != (mine or []):
                setattr(survivor, name, union)
                changed.append(name)
        elif mine is None and theirs is not None:
            setattr(survivor, name, theirs)
            changed.append(name)
    for flag in ("opt_out_statistics", "opt_out_contact"):
        if getattr(dup, flag) and not getattr(survivor, flag):
            setattr(survivor, flag, True)  # an opposition is never lost in a merge
            changed.append(flag)
    return changed


def _merge_sensitive_of(cipher: SensitiveCipher, survivor: Profile, dup: Profile) -> bool:
    """The duplicate's sensitive data joined to the survivor's; whether there was any."""
    theirs_sensitive = decrypt_sensitive(cipher, dup)
    if theirs_sensitive is None:
        return False
    mine_sensitive = decrypt_sensitive(cipher, survivor) or {}
    merged = _merge_sensitive(mine_sensitive, theirs_sensitive)
    survivor.sensitive_key_id, survivor.sensitive_ciphertext = cipher.encrypt(
        survivor.id, merged)
    return True


def _merge_sensitive(mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    out = dict(mine)
    for k, v in theirs.items():
        if isinstance(v, list):
            out[k] = list(dict.fromkeys([*(out.get(k) or []), *v]))
        elif isinstance(v, bool):
            out[k] = bool(out.get(k)) or v
        elif isinstance(v, str) and out.get(k) and out[k] != v:
            out[k] = f"{out[k]}\n{v}"
        elif out.get(k) is None:
            out[k] = v
    return out
