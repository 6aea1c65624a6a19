from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.registry import service
from services.registry.schemas import ProfileCreate, ProfileOut, ProfileUpdate
from shared.concurrency import IfMatch, etag
from shared.errors import problem_responses
from shared.http import CursorsDep, DbDep, Idempotency, respond
from shared.identity import CurrentIdentity
from shared.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

ProfileId = Annotated[str, Path(max_length=64, description="Profile id (UUID)")]


@router.post(
    "",
    status_code=201,
    response_model=ProfileOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Register a person",
)
async def create_profile(
    data: ProfileCreate, identity: CurrentIdentity, db: DbDep, idempotency: Idempotency
) -> Response:
    return respond(await service.create_profile(db=db, identity=identity, data=data,
                                                idempotency=idempotency))


@router.get("", response_model=Page[ProfileOut], responses=problem_responses(400, 401, 422),
            summary="List the profiles you may see")
async def list_profiles(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ProfileOut]:
    return await service.list_profiles(db=db, identity=identity, cursors=cursors, limit=limit,
                                       cursor=cursor)


@router.get("/{profile_id}", response_model=ProfileOut,
            responses=problem_responses(401, 404), summary="Read a profile")
async def get_profile(
    profile_id: ProfileId, identity: CurrentIdentity, db: DbDep, response: Response
) -> ProfileOut:
    profile = await service.get_profile(db=db, identity=identity, profile_id=profile_id)
    response.headers["ETag"] = etag(profile.version)
    return profile


@router.patch("/{profile_id}", response_model=ProfileOut,
              responses=problem_responses(401, 403, 404, 412, 422, 428),
              summary="Rectify a profile (If-Match required)")
async def update_profile(
    profile_id: ProfileId, data: ProfileUpdate, identity: CurrentIdentity, db: DbDep,
    expected: IfMatch, response: Response,
) -> ProfileOut:
    profile = await service.update_profile(db=db, identity=identity, profile_id=profile_id,
                                           data=data, expected=expected)
    response.headers["ETag"] = etag(profile.version)
    return profile
