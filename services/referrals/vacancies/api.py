"""Thin routes of the vacancies. ``/bulk`` is registered before ``/{id}`` so it never reads
as an id; ``/internal/vacancies/upsert`` is how the gateway applies a signed
``vacancy.upsert`` callback (not published, not reachable through the gateway)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.referrals.vacancies import usecases
from services.referrals.vacancies.repository import VacancyFilters
from services.referrals.vacancies.schemas import (
    BulkIn,
    BulkOut,
    VacancyCreate,
    VacancyOut,
    VacancyPage,
    VacancyPatch,
    VacancyStatus,
    VacancyUpsert,
)
from shared.concurrency import IfMatch, etag
from shared.deps import CursorsDep, DbDep, Idempotency
from shared.errors import problem_responses
from shared.http import respond
from shared.identity import CurrentIdentity
from shared.pagination import Cursor, Limit
from shared.regions import RegionCode

router = APIRouter(prefix="/v1/vacancies", tags=["vacancies"])
internal_router = APIRouter(prefix="/internal/vacancies", include_in_schema=False)

VacancyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,36}$", description="Vacancy id "
                                                                            "(UUID)")]
OccupationQuery = Annotated[str | None, Query(pattern=r"^\d{1,4}$", description=(
    "ISCO-08 code or prefix: `2` professionals, `22` health, `2221` nursing."))]
OrgQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
ExternalQuery = Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")]
NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "", operation_id="vacancies_create", status_code=201, response_model=VacancyOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Post a vacancy (public employment services; idempotent)",
    description="By a public employment service (a `provider` or `ministry_system` whose "
                "organisation runs an active `public_employment_service` provider; machine "
                "clients need `vacancies:write`), in a region its provider serves. The "
                "occupation is an ISCO-08 unit group; the currency the country's (PEN, USD). "
                "Requirements are a closed list; selecting by sex, age, nationality, "
                "disability and similar grounds is refused with a 422 naming the field "
                "(Peru's Ley 26772). A wage under the country's monthly minimum or more "
                "than 48 hours a week is accepted and `flags`-ged for caseworkers.")
async def create_vacancy(data: VacancyCreate, identity: CurrentIdentity, db: DbDep,
                         idempotency: Idempotency) -> Response:
    return respond(await usecases.create_vacancy(db=db, identity=identity, data=data,
                                                 idempotency=idempotency))


@router.get(
    "", operation_id="vacancies_list", response_model=VacancyPage,
    responses=problem_responses(400, 401, 403, 422),
    summary="List the vacancies you may see",
    description="Caseworkers, coordinators and NGO partners see every vacancy in their "
                "regions; an employment service its own. Newest first. Filters: `status`, "
                "`region`, `occupation` (ISCO-08 prefix), `organisation_id`, `external_id`.")
async def list_vacancies(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    status: VacancyStatus | None = None, region: Annotated[RegionCode | None, Query()] = None,
    occupation: OccupationQuery = None, organisation_id: OrgQuery = None,
    external_id: ExternalQuery = None, limit: Limit = 50, cursor: Cursor = None,
) -> Response:
    filters = VacancyFilters(status=status.value if status else None, region=region,
                             occupation=occupation, organisation_id=organisation_id,
                             external_id=external_id)
    page = await usecases.list_vacancies(db=db, identity=identity, cursors=cursors,
                                         filters=filters, limit=limit, cursor=cursor)
    return Response(page.model_dump_json().encode(), media_type="application/json",
                    headers=NO_STORE)


@router.post(
    "/bulk", operation_id="vacancies_bulk_upsert", response_model=BulkOut,
    responses=problem_responses(400, 401, 403, 409, 422),
    summary="Synchronise up to 500 vacancies by your own ids (idempotent)",
    description="Each item is a vacancy with your `external_id`: created the first time, "
                "updated when it differs, `unchanged` otherwise; `status: closed` withdraws "
                "it. Each item is judged on its own (`invalid` with field errors never sinks "
                "the batch); the batch commits as one transaction. Send `Idempotency-Key`: "
                "a retried batch changes nothing new.")
async def bulk_upsert(data: BulkIn, identity: CurrentIdentity, db: DbDep,
                      idempotency: Idempotency) -> Response:
    return respond(await usecases.bulk_upsert(db=db, identity=identity, items=data.items,
                                              idempotency=idempotency))


@router.get(
    "/{vacancy_id}", operation_id="vacancies_read", response_model=VacancyOut,
    responses=problem_responses(401, 403, 404, 422), summary="Read a vacancy")
async def get_vacancy(vacancy_id: VacancyId, identity: CurrentIdentity, db: DbDep,
                      response: Response) -> VacancyOut:
    """Reads a vacancy with its requirements, remaining openings and `flags`; its `ETag` is
    the version for If-Match."""
    out = await usecases.get_vacancy(db=db, identity=identity, vacancy_id=vacancy_id)
    response.headers["ETag"] = etag(out.version)
    response.headers["Cache-Control"] = "no-store"
    return out


@router.patch(
    "/{vacancy_id}", operation_id="vacancies_update", response_model=VacancyOut,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
    summary="Edit or withdraw a vacancy (its employment service; If-Match required)",
    description="Only the organisation that posted it (another one gets 404). `status: "
                "closed` withdraws it (`vacancy.closed`); openings cannot drop below the "
                "placements already made; a closed vacancy is final (409).")
async def update_vacancy(vacancy_id: VacancyId, data: VacancyPatch, identity: CurrentIdentity,
                         db: DbDep, expected: IfMatch, response: Response) -> VacancyOut:
    out = await usecases.update_vacancy(db=db, identity=identity, vacancy_id=vacancy_id,
                                        data=data, expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


@internal_router.post("/upsert", status_code=200)
async def upsert_vacancy(data: VacancyUpsert, identity: CurrentIdentity, db: DbDep,
                         idempotency: Idempotency) -> Response:
    """A signed ``vacancy.upsert`` callback, applied by the gateway as the source's
    employment service (its webhook-id as the idempotency key)."""
    return respond(await usecases.upsert_one(db=db, identity=identity, item=data,
                                             idempotency=idempotency))


routers = [router, internal_router]
