"""The route catalogue's use cases: programmes and providers (read by every role, edited
by administrators) and the seeding of the reference catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from services.referrals.catalogue import PROGRAMMES, PROVIDERS
from services.referrals.errors import AlreadyExists, ProgrammeNotFound, ProviderNotFound
from services.referrals.models import Programme, Provider
from services.referrals.outcomes import DEFAULT_OUTCOME
from services.referrals.repository import ProgrammeRepository, ProviderRepository, ProviderRow
from services.referrals.schemas.catalogue import (
    ProgrammeCreate,
    ProgrammeOut,
    ProgrammeUpdate,
    ProviderCreate,
    ProviderOut,
    ProviderUpdate,
)
from services.referrals.usecases.common import commit_or_conflict, dumps, require_admin
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, UnitOfWork
from shared.errors import ValidationFailed
from shared.i18n import Text
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity
from shared.pagination import CursorCodec, Page
from shared.regions import country_of

log = structlog.get_logger("ruta.referrals")


# --- catalogue: programmes ---------------------------------------------------------------------
def _programme_out(p: Programme) -> ProgrammeOut:
    return ProgrammeOut.model_validate(p)


async def list_programmes(
    *, db: Database, identity: Identity, cursors: CursorCodec, country: str | None,
    route_type: str | None, limit: int, cursor: str | None, region: str | None = None,
    include_inactive: bool = False,
) -> Page[ProgrammeOut]:
    filters = {"country": country, "route_type": route_type, "region": region,
               "include_inactive": include_inactive or None}
    after = (str(cursors.decode(cursor, "programmes", filters, caller=identity)[0]) if cursor
             else None)
    async with db.uow() as uow:
        rows = await ProgrammeRepository(uow.session).find(
            country=country, route_type=route_type, region=region,
            include_inactive=include_inactive, after=after, limit=limit + 1)
        items = [_programme_out(p) for p in rows[:limit]]
    nxt = (cursors.encode("programmes", filters, [items[-1].id], caller=identity)
           if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def get_programme(*, db: Database, programme_id: str) -> ProgrammeOut:
    async with db.uow() as uow:
        p = await ProgrammeRepository(uow.session).get(programme_id)
        if p is None:
            raise ProgrammeNotFound()
        return _programme_out(p)


async def create_programme(*, db: Database, identity: Identity, data: ProgrammeCreate,
                           idempotency: IdempotencyKey | None = None) -> StoredResponse:
    require_admin(identity)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProgrammeRepository(uow.session)
        if await repo.get(data.id) is not None:
            raise AlreadyExists(id=data.id)
        p = Programme(
            id=data.id, name=data.name, name_en=data.name_en, route_type=data.route_type.value,
            country=data.country.value, regions=list(data.regions), operator=data.operator,
            outcome_kind=(data.outcome_kind or DEFAULT_OUTCOME[data.route_type.value]).value,
            description=data.description, description_en=data.description_en,
            active=data.active, created_at=now, updated_at=now)
        repo.add(p)
        await uow.session.flush()
        return await _created(uow, idempotency, _programme_out(p), f"/v1/programs/{p.id}")


async def update_programme(*, db: Database, identity: Identity, programme_id: str,
                           data: ProgrammeUpdate, expected: ExpectedVersion) -> ProgrammeOut:
    require_admin(identity)
    async with db.uow() as uow:
        p = await ProgrammeRepository(uow.session).get(programme_id)
        if p is None:
            raise ProgrammeNotFound()
        expected.check(p.version)
        changes = data.model_dump(exclude_unset=True, mode="json")
        _check_regions(changes, p.country, Text(
            "Todas las regiones deben ser del país del programa",
            "Every region must be in the programme's country"))
        for name, value in changes.items():
            setattr(p, name, value)
        p.updated_at = utcnow()
        await uow.session.flush()
        out = _programme_out(p)
        await commit_or_conflict(uow)
        return out


def _check_regions(changes: dict[str, Any], country: str, message: Text) -> None:
    """An update's regions stay in the country the programme or provider belongs to."""
    if "regions" in changes and any(country_of(r) != country for r in changes["regions"]):
        raise ValidationFailed([("regions", message)])


async def _created(uow: UnitOfWork, idempotency: IdempotencyKey | None,
                   out: ProgrammeOut | ProviderOut, location: str) -> StoredResponse:
    """The 201 of a catalogue write, remembered for its retries, and the commit."""
    stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
        "ETag": etag(out.version), "Location": location})
    await commit_or_conflict(uow)
    return stored


# --- catalogue: providers ----------------------------------------------------------------------
def _provider_out(row: ProviderRow) -> ProviderOut:
    p = row.provider
    return ProviderOut(
        id=p.id, organisation_id=p.organisation_id, name=p.name, country=p.country,
        regions=list(p.regions or []), sla_accept_days=p.sla_accept_days,
        sla_complete_days=p.sla_complete_days, sla_working_days=p.sla_working_days,
        required_documents=list(p.required_documents or []), capacity=p.capacity,
        programme_ids=row.programme_ids, active=p.active, version=p.version,
        created_at=p.created_at, updated_at=p.updated_at)


async def list_providers(
    *, db: Database, identity: Identity, cursors: CursorCodec, country: str | None,
    programme_id: str | None,
    region: str | None, organisation_id: str | None, include_inactive: bool, limit: int,
    cursor: str | None,
) -> Page[ProviderOut]:
    filters = {"country": country, "programme_id": programme_id, "region": region,
               "organisation_id": organisation_id, "include_inactive": include_inactive or None}
    after = (str(cursors.decode(cursor, "providers", filters, caller=identity)[0]) if cursor
             else None)
    async with db.uow() as uow:
        rows = await ProviderRepository(uow.session).find(
            country=country, programme_id=programme_id, region=region,
            organisation_id=organisation_id, include_inactive=include_inactive, after=after,
            limit=limit + 1)
        items = [_provider_out(r) for r in rows[:limit]]
    nxt = (cursors.encode("providers", filters, [items[-1].id], caller=identity)
           if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def get_provider(*, db: Database, provider_id: str) -> ProviderOut:
    async with db.uow() as uow:
        repo = ProviderRepository(uow.session)
        p = await repo.get(provider_id)
        if p is None:
            raise ProviderNotFound()
        return _provider_out(ProviderRow(p, (await repo.programme_ids([p.id]))[p.id]))


async def _check_programmes(uow: UnitOfWork, country: str, programme_ids: Sequence[str]
                            ) -> None:
    repo = ProgrammeRepository(uow.session)
    errors: list[tuple[str, Text]] = []
    for i, pid in enumerate(programme_ids):
        p = await repo.get(pid)
        if p is None:
            errors.append((f"programme_ids[{i}]", Text("Programa desconocido",
                                                      "Unknown programme")))
        elif p.country != country:
            errors.append((f"programme_ids[{i}]", Text("Programa de otro país",
                                                      "Programme of another country")))
    if errors:
        raise ValidationFailed(errors)


async def create_provider(*, db: Database, identity: Identity, data: ProviderCreate,
                          idempotency: IdempotencyKey | None = None) -> StoredResponse:
    require_admin(identity)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProviderRepository(uow.session)
        if await repo.get(data.id) is not None:
            raise AlreadyExists(id=data.id)
        await _check_programmes(uow, data.country.value, data.programme_ids)
        p = Provider(
            id=data.id, organisation_id=data.organisation_id, name=data.name,
            country=data.country.value, regions=list(data.regions),
            sla_accept_days=data.sla_accept_days, sla_complete_days=data.sla_complete_days,
            sla_working_days=data.sla_working_days,
            required_documents=list(data.required_documents), capacity=data.capacity,
            active=data.active, created_at=now, updated_at=now)
        repo.add(p)
        await uow.session.flush()
        await repo.set_programmes(p.id, data.programme_ids)
        await uow.session.flush()
        return await _created(uow, idempotency,
                              _provider_out(ProviderRow(p, sorted(data.programme_ids))),
                              f"/v1/providers/{p.id}")


async def update_provider(*, db: Database, identity: Identity, provider_id: str,
                          data: ProviderUpdate, expected: ExpectedVersion) -> ProviderOut:
    require_admin(identity)
    async with db.uow() as uow:
        repo = ProviderRepository(uow.session)
        p = await repo.get(provider_id)
        if p is None:
            raise ProviderNotFound()
        expected.check(p.version)
        changes = data.model_dump(exclude_unset=True, mode="json")
        _check_regions(changes, p.country, Text(
            "Todas las regiones deben ser del país del proveedor",
            "Every region must be in the provider's country"))
        programme_ids = changes.pop("programme_ids", None)
        if programme_ids is not None:
            await _check_programmes(uow, p.country, programme_ids)
            await repo.set_programmes(p.id, programme_ids)
        for name, value in changes.items():
            setattr(p, name, value)
        p.updated_at = utcnow()  # bumps the version even when only programmes changed
        await uow.session.flush()
        out = _provider_out(ProviderRow(p, (await repo.programme_ids([p.id]))[p.id]))
        await commit_or_conflict(uow)
        return out


async def seed_catalogue(*, db: Database) -> int:
    """Insert the reference programmes and providers that are missing; never overwrite an
    admin's edits. Returns how many programmes were added (providers are logged)."""
    async with db.uow() as uow:
        programmes = ProgrammeRepository(uow.session)
        providers = ProviderRepository(uow.session)
        have = await programmes.existing_ids()
        added = providers_added = 0
        now = utcnow()
        for item in PROGRAMMES:
            if item["id"] not in have:
                outcome = item.get("outcome_kind") or DEFAULT_OUTCOME[item["route_type"]].value
                programmes.add(Programme(**{**item, "outcome_kind": outcome},
                                         created_at=now, updated_at=now))
                added += 1
        await uow.session.flush()
        have_providers = await providers.existing_ids()
        for item in PROVIDERS:
            if item["id"] in have_providers:
                continue
            fields = {k: v for k, v in item.items() if k != "programme_ids"}
            providers.add(Provider(**fields, created_at=now, updated_at=now))
            await uow.session.flush()
            await providers.set_programmes(item["id"], item["programme_ids"])
            providers_added += 1
        await uow.commit()
    if providers_added:
        log.info("catalogue_providers_added", count=providers_added)
    return added
