"""Vacancy use cases: post, read, list and edit one (If-Match), sync many by the employment
service's own ids (bulk, inbound callbacks), fill an opening when an application ends in a
placement, and close the vacancies whose last day has passed.

Each write recomputes the caseworker's ``flags`` (minimum wage, 48-hour week) and emits its
``vacancy.*`` event in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog
from pydantic import ValidationError

from services.referrals.errors import NoReferralData
from services.referrals.models import Programme, Provider
from services.referrals.usecases.common import (
    NO_STORE,
    commit_or_conflict,
    decode_position,
    dumps,
    encode_position,
)
from services.referrals.vacancies.access import (
    EMPLOYMENT_SERVICE_ROLES,
    can_edit_vacancy,
    can_see_vacancy,
)
from services.referrals.vacancies.errors import (
    NotAnEmploymentService,
    VacancyFinal,
    VacancyNotFound,
    VacancyNotOpen,
)
from services.referrals.vacancies.events import vacancy_event
from services.referrals.vacancies.models import Vacancy
from services.referrals.vacancies.placement import settle_openings
from services.referrals.vacancies.repository import VacancyFilters, VacancyRepository
from services.referrals.vacancies.schemas import (
    BulkItemResult,
    BulkOut,
    FieldError,
    VacancyCreate,
    VacancyOut,
    VacancyPage,
    VacancyPatch,
    VacancyStatus,
    VacancyUpsert,
    check_coherence,
)
from services.referrals.vacancies.standards import flags
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, UnitOfWork
from shared.errors import InvalidValue, ValidationFailed, validation_errors
from shared.i18n import Text, current_language
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Role
from shared.models import new_id
from shared.pagination import CursorCodec
from shared.regions import country_of
from shared.work_authorisation import today_in

log = structlog.get_logger("ruta.referrals.vacancies")

_REGION_NOT_SERVED = Text(
    "Su servicio de empleo no atiende esta región (regiones de su proveedor en el catálogo)",
    "Your employment service does not serve this region (its provider's regions in the "
    "catalogue)")
_ALREADY_OVER = Text("valid_until ya pasó en el país de la vacante",
                     "valid_until has already passed in the vacancy's country")
_EXTERNAL_TAKEN = Text("Ya existe una vacante suya con este external_id (use la "
                       "sincronización masiva para actualizarla)",
                       "You already have a vacancy with this external_id (use the bulk "
                       "sync to update it)")
_PLACEMENTS = Text("No puede haber menos vacantes que colocaciones ya registradas ({placed})",
                   "Openings cannot be fewer than the placements already recorded "
                   "({placed})")

# Fields a write may set, in the order the PATCH and the upsert copy them.
FIELDS = ("title", "description", "employer_name", "occupation_isco", "district", "openings",
          "formal_contract", "wage_min", "wage_max", "currency", "hours_per_week",
          "valid_from", "valid_until", "requirements")


# --- who may -------------------------------------------------------------------------------
def require_employment_service(identity: Identity) -> str:
    """Vacancies are posted by an employment service's staff or system, for their
    organisation (403 for any other role)."""
    if identity.role is Role.ADMIN:
        raise NoReferralData()
    if identity.role not in EMPLOYMENT_SERVICE_ROLES or identity.organisation_id is None:
        raise NotAnEmploymentService()
    return identity.organisation_id


def require_vacancy_reader(identity: Identity) -> None:
    if identity.role is Role.ADMIN:
        raise NoReferralData()


async def _route_for(uow: UnitOfWork, organisation_id: str, region: str,
                     routes: Sequence[tuple[Provider, Programme]] | None = None
                     ) -> tuple[Provider, Programme]:
    """The organisation's employment route serving ``region``: 403 when it runs none at
    all, 422 on ``region`` when none of its providers serves the region. A batch passes the
    routes it read once (``routes``) instead of one query per item."""
    if routes is None:
        routes = await VacancyRepository(uow.session).employment_routes(organisation_id)
    if not routes:
        raise NotAnEmploymentService()
    country = country_of(region)
    for provider, programme in routes:
        if (programme.country == country and region in (provider.regions or [])
                and region in (programme.regions or [])):
            return provider, programme
    raise ValidationFailed([("region", _REGION_NOT_SERVED)])


async def load_visible_vacancy(uow: UnitOfWork, identity: Identity, vacancy_id: str, *,
                               for_update: bool = False) -> Vacancy:
    v = await VacancyRepository(uow.session).get(vacancy_id, for_update=for_update)
    if v is None or not can_see_vacancy(identity, v):
        raise VacancyNotFound()
    return v


# --- shapes --------------------------------------------------------------------------------
def vacancy_out(v: Vacancy) -> VacancyOut:
    return VacancyOut.model_validate(v, from_attributes=True)


def _stored(value: Any) -> Any:
    """A validated field as the row keeps it (money as float, requirements as JSON)."""
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def _refresh_derived(v: Vacancy, now: datetime) -> None:
    v.flags = flags(country=v.country, wage_min=v.wage_min, wage_max=v.wage_max,
                    hours_per_week=v.hours_per_week)
    v.updated_at = now


# --- posting -------------------------------------------------------------------------------
def _new_vacancy(data: VacancyCreate, *, organisation_id: str, provider: Provider,
                 programme: Programme, actor: Identity, now: datetime) -> Vacancy:
    v = Vacancy(
        id=new_id(), organisation_id=organisation_id, external_id=data.external_id,
        programme_id=programme.id, provider_id=provider.id,
        country=country_of(data.region), region=data.region, status=VacancyStatus.OPEN.value,
        openings_remaining=data.openings, created_by=actor.subject, created_at=now,
        version=1, **{name: _stored(getattr(data, name)) for name in FIELDS})
    _refresh_derived(v, now)
    return v


def _check_not_over(country: str, valid_until: date, now: datetime) -> None:
    if valid_until < today_in(country, now):
        raise ValidationFailed([("valid_until", _ALREADY_OVER)])


async def create_vacancy(*, db: Database, identity: Identity, data: VacancyCreate,
                         idempotency: IdempotencyKey | None = None) -> StoredResponse:
    organisation_id = require_employment_service(identity)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        provider, programme = await _route_for(uow, organisation_id, data.region)
        _check_not_over(country_of(data.region), data.valid_until, now)
        repo = VacancyRepository(uow.session)
        if data.external_id is not None and await repo.by_external_ids(
                organisation_id, [data.external_id]):
            raise ValidationFailed([("external_id", _EXTERNAL_TAKEN)])
        v = _new_vacancy(data, organisation_id=organisation_id, provider=provider,
                         programme=programme, actor=identity, now=now)
        repo.add(v)
        await uow.session.flush()
        uow.emit(vacancy_event("vacancy.created", v))
        out = vacancy_out(v)
        stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
            "ETag": etag(v.version), "Location": f"/v1/vacancies/{v.id}", **NO_STORE})
        await commit_or_conflict(uow)
    log.info("vacancy_created", vacancy_id=out.id, occupation=out.occupation_isco,
             region=out.region, flags=out.flags)
    return stored


# --- reading -------------------------------------------------------------------------------
async def get_vacancy(*, db: Database, identity: Identity, vacancy_id: str) -> VacancyOut:
    require_vacancy_reader(identity)
    async with db.uow() as uow:
        return vacancy_out(await load_visible_vacancy(uow, identity, vacancy_id))


async def list_vacancies(*, db: Database, identity: Identity, cursors: CursorCodec,
                         filters: VacancyFilters, limit: int, cursor: str | None
                         ) -> VacancyPage:
    require_vacancy_reader(identity)
    key = filters.as_dict()
    after = decode_position(cursors, cursor, "vacancies", key, caller=identity)
    async with db.uow() as uow:
        rows = await VacancyRepository(uow.session).find(
            identity=identity, filters=filters, after=after, limit=limit + 1)
        items = [vacancy_out(v) for v in rows[:limit]]
    nxt = (encode_position(cursors, "vacancies", key, rows[limit - 1].created_at,
                           rows[limit - 1].id, caller=identity) if len(rows) > limit else None)
    return VacancyPage(items=items, next_cursor=nxt)


# --- editing -------------------------------------------------------------------------------
def _apply_changes(v: Vacancy, changes: dict[str, Any], now: datetime) -> list[str]:
    """Copy ``changes`` onto ``v`` after checking the merged vacancy holds together (422
    naming the field); returns the names of the fields that changed."""
    merged = {name: changes.get(name, getattr(v, name)) for name in FIELDS}
    try:
        check_coherence(v.region, merged["district"], merged["currency"], merged["wage_min"],
                        merged["wage_max"], merged["valid_from"], merged["valid_until"])
    except InvalidValue as exc:
        raise ValidationFailed([("body", exc.text)]) from None
    placed = v.openings - v.openings_remaining
    if merged["openings"] < placed:
        raise ValidationFailed([("openings", _PLACEMENTS)], placed=placed)
    changed = [name for name in FIELDS if name in changes
               and _stored(changes[name]) != _stored(getattr(v, name))]
    for name in changed:
        setattr(v, name, _stored(changes[name]))
    if "openings" in changed:
        v.openings_remaining = v.openings - placed
        settle_openings(v, now)
    _refresh_derived(v, now)
    return changed


def _emit_after_change(uow: UnitOfWork, v: Vacancy, before: str, changed: list[str]) -> None:
    if changed:
        uow.emit(vacancy_event("vacancy.updated", v, {"changed_fields": changed}))
    if v.status != before and v.status == VacancyStatus.FILLED:
        uow.emit(vacancy_event("vacancy.filled", v))
    if v.status != before and v.status == VacancyStatus.CLOSED:
        uow.emit(vacancy_event("vacancy.closed", v, {"reason": "withdrawn"}))


def _close(v: Vacancy, now: datetime) -> None:
    v.status, v.closed_at, v.updated_at = VacancyStatus.CLOSED.value, now, now


async def update_vacancy(*, db: Database, identity: Identity, vacancy_id: str,
                         data: VacancyPatch, expected: ExpectedVersion) -> VacancyOut:
    """Edit with the version read (412 otherwise); only the posting organisation may (a
    reader of another organisation gets 404 as if it did not exist, ``access``)."""
    require_employment_service(identity)
    now = utcnow()
    async with db.uow() as uow:
        v = await load_visible_vacancy(uow, identity, vacancy_id, for_update=True)
        if not can_edit_vacancy(identity, v):
            raise VacancyNotFound()
        expected.check(v.version)
        if v.status == VacancyStatus.CLOSED:
            raise VacancyFinal()
        changes = data.model_dump(exclude_unset=True)
        close = changes.pop("status", None) == VacancyStatus.CLOSED
        for name in [k for k, value in changes.items() if value is None and k in (
                "title", "occupation_isco", "openings", "formal_contract", "valid_from",
                "valid_until", "requirements")]:
            raise ValidationFailed([(name, Text("Obligatorio: no puede quedar vacío",
                                                "Required: it cannot be emptied"))])
        before = v.status
        changed = _apply_changes(v, changes, now)
        if "valid_until" in changed:
            _check_not_over(v.country, v.valid_until, now)
        if close:
            _close(v, now)
            changed.append("status")
        if not changed:
            return vacancy_out(v)
        await uow.session.flush()
        _emit_after_change(uow, v, before, [c for c in changed if c != "status"])
        out = vacancy_out(v)
        await commit_or_conflict(uow)
    return out


# --- synchronising -------------------------------------------------------------------------
def _errors_of(exc: ValidationError) -> list[FieldError]:
    return [FieldError(**e) for e in validation_errors(exc.errors(), current_language())]


async def _upsert(uow: UnitOfWork, identity: Identity, organisation_id: str,
                  item: VacancyUpsert, existing: Vacancy | None, now: datetime,
                  routes: Sequence[tuple[Provider, Programme]] | None = None
                  ) -> tuple[str, Vacancy]:
    """Create the vacancy or bring the stored one in line with the employment service's
    record; ``created``, ``updated`` or ``unchanged``."""
    if existing is None:
        provider, programme = await _route_for(uow, organisation_id, item.region, routes)
        _check_not_over(country_of(item.region), item.valid_until, now)
        v = _new_vacancy(item, organisation_id=organisation_id, provider=provider,
                         programme=programme, actor=identity, now=now)
        if item.status == VacancyStatus.CLOSED:
            _close(v, now)
        VacancyRepository(uow.session).add(v)
        await uow.session.flush()
        uow.emit(vacancy_event("vacancy.created", v))
        if v.status == VacancyStatus.CLOSED:
            uow.emit(vacancy_event("vacancy.closed", v, {"reason": "withdrawn"}))
        return "created", v
    if item.region != existing.region:
        raise ValidationFailed([("region", Text(
            "La región de una vacante no cambia: cierre esta y publique otra",
            "A vacancy's region does not change: close this one and post another"))])
    if existing.status == VacancyStatus.CLOSED:
        return "unchanged", existing
    before = existing.status
    changed = _apply_changes(existing, {n: getattr(item, n) for n in FIELDS}, now)
    if item.status == VacancyStatus.CLOSED:
        _close(existing, now)
    if not changed and existing.status == before:
        return "unchanged", existing
    await uow.session.flush()
    _emit_after_change(uow, existing, before, changed)
    return "updated", existing


async def bulk_upsert(*, db: Database, identity: Identity, items: list[Any],
                      idempotency: IdempotencyKey | None = None) -> StoredResponse:
    """Up to 500 vacancies by the employment service's own ``external_id``, each judged on
    its own (``created``, ``updated``, ``unchanged`` or ``invalid`` with field errors), in
    one transaction; with ``Idempotency-Key`` a retried batch changes nothing new."""
    organisation_id = require_employment_service(identity)
    now = utcnow()
    results: list[BulkItemResult] = []
    parsed: list[tuple[int, VacancyUpsert]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(items):
        try:
            item = VacancyUpsert.model_validate(raw)
        except ValidationError as exc:
            results.append(BulkItemResult(index=i, status="invalid", errors=_errors_of(exc)))
            continue
        if item.external_id in seen:
            results.append(BulkItemResult(index=i, status="invalid", errors=[FieldError(
                field="external_id", message=Text(
                    "Repetido en el lote (elemento {first})",
                    "Repeated in the batch (item {first})").render(
                    current_language(), first=seen[item.external_id]))]))
            continue
        seen[item.external_id] = i
        results.append(BulkItemResult(index=i, status="unchanged"))
        parsed.append((i, item))
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = VacancyRepository(uow.session)
        routes = await repo.employment_routes(organisation_id)
        if not routes:
            raise NotAnEmploymentService()
        existing = await repo.by_external_ids(
            organisation_id, [item.external_id for _, item in parsed])
        for i, item in parsed:
            # _upsert checks everything before it writes: a refused item leaves no trace
            try:
                status, v = await _upsert(uow, identity, organisation_id, item,
                                          existing.get(item.external_id), now, routes)
            except ValidationFailed as exc:
                results[i] = BulkItemResult(index=i, status="invalid", errors=[
                    FieldError(field=f, message=t.render(current_language(), **exc.params))
                    for f, t in exc.field_errors])
                continue
            results[i] = BulkItemResult(index=i, status=status, id=v.id)
        out = BulkOut.summarise(results)
        stored = await uow.remember(idempotency, status_code=200, body=dumps(out),
                                    headers=NO_STORE)
        await commit_or_conflict(uow)
    log.info("vacancies_synced", created=out.created, updated=out.updated,
             unchanged=out.unchanged, invalid=out.invalid)
    return stored


async def upsert_one(*, db: Database, identity: Identity, item: VacancyUpsert,
                     idempotency: IdempotencyKey | None = None) -> StoredResponse:
    """One vacancy by its ``external_id`` (a signed ``vacancy.upsert`` callback): 201
    created, 200 updated or unchanged, 422 naming the field."""
    organisation_id = require_employment_service(identity)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        existing = await VacancyRepository(uow.session).by_external_ids(
            organisation_id, [item.external_id])
        status, v = await _upsert(uow, identity, organisation_id, item,
                                  existing.get(item.external_id), now)
        out = vacancy_out(v)
        stored = await uow.remember(
            idempotency, status_code=201 if status == "created" else 200, body=dumps(out),
            headers={"ETag": etag(v.version), "Location": f"/v1/vacancies/{v.id}",
                     **NO_STORE})
        await commit_or_conflict(uow)
    return stored


# --- placements and closing ----------------------------------------------------------------
CLOSE_BATCH = 500


async def close_expired(*, db: Database, now: datetime | None = None,
                        batch: int = CLOSE_BATCH) -> int:
    """Close the open vacancies whose ``valid_until`` has passed in their country (the
    day after it there), announcing ``vacancy.closed`` for each; returns how many. Safe to
    run from several replicas at once (rows locked with SKIP LOCKED on PostgreSQL; SQLite
    has one writer)."""
    now = now or utcnow()
    closed = 0
    async with db.uow() as uow:
        repo = VacancyRepository(uow.session)
        for country in ("PE", "EC"):
            for v in await repo.expired_open(country=country, before=today_in(country, now),
                                             limit=batch, is_postgres=db.is_postgres):
                _close(v, now)
                await uow.session.flush()
                uow.emit(vacancy_event("vacancy.closed", v, {"reason": "expired"}))
                closed += 1
        await uow.commit()
    if closed:
        log.info("vacancies_closed", count=closed)
    return closed


# --- applying ------------------------------------------------------------------------------
_VACANCY_FIELD = Text("Vacante no encontrada o fuera de su alcance",
                      "Vacancy not found or outside your scope")
_NOT_ITS_ROUTE = Text("Una postulación va al servicio de empleo de la vacante ({programme}, "
                      "{provider}): omita este campo o use ese valor",
                      "An application goes to the vacancy's employment service ({programme}, "
                      "{provider}): leave this field out or use that value")
_OTHER_COUNTRY = Text("La vacante es de otro país que la persona",
                      "The vacancy is in another country than the person")
_ROUTE_INACTIVE = Text("El servicio de empleo de la vacante ya no está activo en el catálogo",
                       "The vacancy's employment service is no longer active in the catalogue")


async def application_route(uow: UnitOfWork, identity: Identity, *, vacancy_id: str,
                            programme_id: str | None, provider_id: str | None, region: str
                            ) -> tuple[Vacancy, Programme, Provider]:
    """Where an application to a vacancy goes: the vacancy's own programme and provider.
    The vacancy must be one the referrer sees (else 422 naming ``vacancy_id``, as for a
    person), open (409) and in the person's country (422)."""
    v = await VacancyRepository(uow.session).get(vacancy_id)
    if v is None or not can_see_vacancy(identity, v):
        raise ValidationFailed([("vacancy_id", _VACANCY_FIELD)])
    if v.status != VacancyStatus.OPEN:
        raise VacancyNotOpen(status=v.status)
    for field, given, own in (("programme_id", programme_id, v.programme_id),
                              ("provider_id", provider_id, v.provider_id)):
        if given is not None and given != own:
            raise ValidationFailed([(field, _NOT_ITS_ROUTE)], programme=v.programme_id,
                                   provider=v.provider_id)
    if country_of(region) != v.country:
        raise ValidationFailed([("vacancy_id", _OTHER_COUNTRY)])
    programme = await uow.session.get(Programme, v.programme_id)
    provider = await uow.session.get(Provider, v.provider_id)
    if programme is None or provider is None or not programme.active or not provider.active:
        raise ValidationFailed([("vacancy_id", _ROUTE_INACTIVE)])
    return v, programme, provider
