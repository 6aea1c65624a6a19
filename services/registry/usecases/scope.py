"""Who may call, and which profile they reach: the checks every use case starts with.

An object outside the caller's scope is 404, never 403 (a 403 would confirm the person is
registered). Visibility itself is decided in services.registry.access.

The 404 must not tell either, by its cost: a profile outside scope and an id that does not
exist run the same statements — the profile lookup, then the person's consents naming the
caller's organisation (:func:`load_access` reads them for every caller but the owner, and
:func:`not_found` for a missing id) — and the access-denial record of services.registry.denials
is one statement in both cases.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.registry.access import Access, access_of, owns
from services.registry.errors import (
    DuplicateDocument,
    DuplicateDocumentVisible,
    NoProfileData,
    NotOwner,
    ProfileErased,
    ProfileMerged,
    ProfileNotFound,
    RoleNotAllowed,
)
from services.registry.models import Profile, ProfileStatus
from services.registry.presenters import RowView, profile_location
from services.registry.repository import ProfileRepository
from shared.authz import CASELOAD_ROLES
from shared.identity import Identity, Role

READERS = frozenset({*CASELOAD_ROLES, Role.PROVIDER})
STATISTICS_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN, Role.SYSTEM})


def require_role(identity: Identity, roles: Iterable[Role]) -> None:
    """403 unless the caller's role is one of ``roles`` and acts for an organisation; the
    admin role holds no personal or sensitive data, whatever the route."""
    if identity.role in (Role.ADMIN, Role.MINISTRY_SYSTEM):
        raise NoProfileData()
    if identity.role not in roles or identity.organisation_id is None:
        raise RoleNotAllowed()


async def load_access(repo: ProfileRepository, identity: Identity, p: Any, now: datetime
                      ) -> Access | None:
    """How ``identity`` may see profile ``p`` (row or object), or None: out of scope. The
    person's consents naming the caller's organisation are read for every reader outside the
    owner, even one the region alone excludes: that is the lookup :func:`not_found` repeats,
    so an outsider cannot tell by the time taken whether the person exists."""
    if owns(identity, p) or identity.organisation_id is None:
        return access_of(identity, p, (), now)
    consents = await repo.consents_naming(p.id, identity.organisation_id)
    return access_of(identity, p, consents, now)


async def not_found(repo: ProfileRepository, identity: Identity, profile_id: str
                    ) -> ProfileNotFound:
    """The 404 for an id with no profile, after the same consent lookup an existing profile
    outside scope costs (:func:`load_access`): it finds nothing, and it is there so both
    404s run the same statements."""
    if identity.organisation_id is not None:
        await repo.consents_naming(profile_id, identity.organisation_id)
    return ProfileNotFound(profile_id=profile_id)


async def require_live(repo: ProfileRepository, identity: Identity, p: Any,
                       access: Access | None, now: datetime) -> Access:
    """Active profiles pass; merged ones point to their survivor, cancelled ones are gone."""
    if p.status == ProfileStatus.MERGED and p.merged_into:
        survivor = await repo.get(p.merged_into)
        if survivor is not None and await load_access(repo, identity, survivor, now):
            raise ProfileMerged(survivor.id)
        raise ProfileNotFound(profile_id=p.id)
    if access is None:
        raise ProfileNotFound(profile_id=p.id)
    if p.status == ProfileStatus.ERASED:
        if access.owner:
            raise ProfileErased()
        raise ProfileNotFound(profile_id=p.id)
    return access


async def load_visible(repo: ProfileRepository, identity: Identity, profile_id: str,
                       now: datetime, *, owner_only: bool) -> tuple[Profile, Access]:
    """The active profile ``identity`` may see (``owner_only``: as its owner), and how."""
    p = await repo.get(profile_id)
    if p is None:
        raise await not_found(repo, identity, profile_id)
    access = await require_live(repo, identity, p, await load_access(repo, identity, p, now),
                                now)
    if owner_only and not access.owner:
        raise NotOwner()
    return p, access


async def load_owned(repo: ProfileRepository, identity: Identity, profile_id: str,
                     now: datetime) -> Profile:
    """The profile whose logs the caller's organisation reads as its owner: cancelled ones
    too (their history stays); a merged one points to its survivor."""
    p = await repo.get(profile_id)
    if p is None:
        raise await not_found(repo, identity, profile_id)
    access = await load_access(repo, identity, p, now)
    if p.status == ProfileStatus.MERGED:
        await require_live(repo, identity, p, access, now)
    if access is None:
        raise ProfileNotFound(profile_id=p.id)
    if not access.owner:
        raise NotOwner()
    return p


async def pointer_if_visible(repo: ProfileRepository, identity: Identity, now: datetime,
                             owner: tuple[str, str, str, str]) -> str | None:
    """The id of the active profile holding a document, when the caller may see it."""
    pid, org, region, status = owner
    if status != ProfileStatus.ACTIVE:
        return None
    p = RowView({"id": pid, "organisation_id": org, "region": region})
    return pid if await load_access(repo, identity, p, now) is not None else None


async def reject_registered_documents(repo: ProfileRepository, identity: Identity,
                                      now: datetime,
                                      owners: Iterable[tuple[str, str, str, str]]) -> None:
    """A document is already registered to one of ``owners``: 409, pointing to the profile
    only when the caller may see it."""
    for owner in owners:
        if (pointer := await pointer_if_visible(repo, identity, now, owner)):
            raise DuplicateDocumentVisible(
                location=profile_location(pointer),
                extra={"existing_profile_id": pointer,
                       "existing_profile": profile_location(pointer)})
    raise DuplicateDocument()
