"""Registry use cases. Each opens its own unit of work and commits once."""

from __future__ import annotations

from services.registry.models import Profile
from services.registry.repository import ProfileRepository
from services.registry.schemas import ProfileCreate, ProfileOut, ProfileUpdate
from shared.authz import ensure_in_scope
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, Event, IdempotencyKey, StoredResponse
from shared.errors import Forbidden, NotFound
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.pagination import CursorCodec, Page
from shared.regions import country_of

REGISTERING_ROLES = {Role.CASEWORKER, Role.COORDINATOR, Role.NGO_PARTNER}


class ProfileNotFound(NotFound):
    code = "profile-not-found"
    detail_text = Text("El perfil no existe o no está a su alcance.",
                       "The profile does not exist or is outside your scope.")


class RegionOutsideScope(Forbidden):
    code = "region-outside-scope"
    detail_text = Text("No puede registrar personas fuera de sus regiones.",
                       "You cannot register people outside your regions.")


def _profile_location(profile_id: str) -> str:
    return f"/v1/profiles/{profile_id}"


async def create_profile(
    *, db: Database, identity: Identity, data: ProfileCreate,
    idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    if identity.role not in REGISTERING_ROLES or identity.organisation_id is None:
        raise Forbidden()
    if identity.regions and data.region not in identity.regions:
        raise RegionOutsideScope()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        profile = Profile(
            organisation_id=identity.organisation_id,
            country=country_of(data.region),
            status="active",
            created_by=identity.subject,
            **data.model_dump(),
        )
        ProfileRepository(uow.session).add(profile)
        await uow.session.flush()
        uow.emit(Event(type="profile.created", subject_type="profile", subject_id=profile.id,
                       subject_version=profile.version, organisation_id=profile.organisation_id,
                       regions=[profile.region]))
        out = ProfileOut.model_validate(profile)
        stored = await uow.remember(
            idempotency, status_code=201, body=out.model_dump(mode="json"),
            headers={"ETag": etag(profile.version), "Location": _profile_location(profile.id)},
        )
        await uow.commit()
        return stored


async def get_profile(*, db: Database, identity: Identity, profile_id: str) -> ProfileOut:
    async with db.uow() as uow:
        profile = await _visible_profile(ProfileRepository(uow.session), identity, profile_id)
        return ProfileOut.model_validate(profile)


async def _visible_profile(repo: ProfileRepository, identity: Identity, profile_id: str
                           ) -> Profile:
    profile = await repo.get(profile_id)
    if profile is None or profile.status != "active":
        raise ProfileNotFound()
    ensure_in_scope(identity, organisation_id=profile.organisation_id, region=profile.region,
                    not_found=ProfileNotFound)
    return profile


async def update_profile(
    *, db: Database, identity: Identity, profile_id: str, data: ProfileUpdate,
    expected: ExpectedVersion,
) -> ProfileOut:
    changes = data.model_dump(exclude_unset=True)
    if identity.role not in REGISTERING_ROLES:
        raise Forbidden()
    if "region" in changes and identity.regions and changes["region"] not in identity.regions:
        raise RegionOutsideScope()
    async with db.uow() as uow:
        profile = await _visible_profile(ProfileRepository(uow.session), identity, profile_id)
        expected.check(profile.version)
        changed = sorted(k for k, v in changes.items() if getattr(profile, k) != v)
        for key in changed:
            setattr(profile, key, changes[key])
        if "region" in changed:
            profile.country = country_of(profile.region)
        if changed:
            await uow.session.flush()
            uow.emit(Event(type="profile.updated", subject_type="profile", subject_id=profile.id,
                           subject_version=profile.version,
                           organisation_id=profile.organisation_id, regions=[profile.region],
                           data={"changed_fields": changed}))
        out = ProfileOut.model_validate(profile)
        await uow.commit()
        return out


async def list_profiles(
    *, db: Database, identity: Identity, cursors: CursorCodec, limit: int, cursor: str | None,
) -> Page[ProfileOut]:
    if identity.organisation_id is None:
        return Page(items=[], next_cursor=None)
    after = cursors.decode(cursor, "profiles", {})[0] if cursor else None
    async with db.uow() as uow:
        rows = await ProfileRepository(uow.session).list_visible(
            organisation_id=identity.organisation_id, regions=identity.regions,
            after=after, limit=limit + 1,
        )
        items = [ProfileOut.model_validate(p) for p in rows[:limit]]
    next_cursor = (cursors.encode("profiles", {}, [items[-1].id])
                   if len(rows) > limit else None)
    return Page(items=items, next_cursor=next_cursor)
