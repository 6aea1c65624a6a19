"""Organisation use cases (admin only). Each owns its transaction."""

from __future__ import annotations

from gateway.identity.access import require_admin
from gateway.identity.errors import OrganisationExists, OrganisationNotFound
from gateway.identity.models import Organisation
from gateway.identity.repository import IdentityRepository
from gateway.identity.schemas import (
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    regions_fit_country,
)
from shared.concurrency import ExpectedVersion
from shared.db import Database
from shared.errors import ValidationFailed
from shared.i18n import Text
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity
from shared.pagination import CursorCodec, Page

REGIONS_OUTSIDE_COUNTRY = Text("Las regiones deben ser del país indicado",
                               "Regions must belong to the country")


async def create_organisation(*, db: Database, identity: Identity, data: OrganisationCreate,
                              idempotency: IdempotencyKey | None) -> StoredResponse:
    require_admin(identity)
    if not regions_fit_country(data.regions, data.country):
        raise ValidationFailed([("regions", REGIONS_OUTSIDE_COUNTRY)])
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = IdentityRepository(uow.session)
        if await repo.organisation(data.id) is not None:
            raise OrganisationExists()
        org = Organisation(**data.model_dump(), status="active")
        repo.add(org)
        await uow.session.flush()
        out = OrganisationOut.model_validate(org)
        stored = await uow.remember(idempotency, status_code=201,
                                    body=out.model_dump(mode="json"),
                                    headers={"ETag": f'"v{org.version}"',
                                             "Location": f"/v1/organisations/{org.id}"})
        await uow.commit()
        return stored


async def _load(repo: IdentityRepository, organisation_id: str) -> Organisation:
    org = await repo.organisation(organisation_id)
    if org is None:
        raise OrganisationNotFound()
    return org


async def get_organisation(*, db: Database, identity: Identity, organisation_id: str
                           ) -> OrganisationOut:
    require_admin(identity)
    async with db.uow() as uow:
        org = await _load(IdentityRepository(uow.session), organisation_id)
        return OrganisationOut.model_validate(org)


async def list_organisations(*, db: Database, identity: Identity, cursors: CursorCodec,
                             limit: int, cursor: str | None) -> Page[OrganisationOut]:
    require_admin(identity)
    after = cursors.decode(cursor, "organisations", {}, caller=identity)[0] if cursor else None
    async with db.uow() as uow:
        rows = await IdentityRepository(uow.session).organisations(after=after, limit=limit + 1)
        items = [OrganisationOut.model_validate(o) for o in rows[:limit]]
    nxt = (cursors.encode("organisations", {}, [items[-1].id], caller=identity)
           if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def update_organisation(*, db: Database, identity: Identity, organisation_id: str,
                              data: OrganisationUpdate, expected: ExpectedVersion
                              ) -> OrganisationOut:
    require_admin(identity)
    async with db.uow() as uow:
        org = await _load(IdentityRepository(uow.session), organisation_id)
        expected.check(org.version)
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        if "regions" in changes and not regions_fit_country(changes["regions"], org.country):
            raise ValidationFailed([("regions", REGIONS_OUTSIDE_COUNTRY)])
        for key, value in changes.items():
            setattr(org, key, sorted(set(value)) if key == "regions" else value)
        await uow.session.flush()
        out = OrganisationOut.model_validate(org)
        await uow.commit()
        return out
