from __future__ import annotations

from fastapi import APIRouter

from services.referrals import service
from services.referrals.schemas import Country, ProgrammeOut, RouteType
from shared.errors import problem_responses
from shared.http import CursorsDep, DbDep
from shared.identity import CurrentIdentity
from shared.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/v1/programs", tags=["programs"])


@router.get("", response_model=Page[ProgrammeOut], responses=problem_responses(400, 401, 422),
            summary="List the route catalogue")
async def list_programmes(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    country: Country | None = None, route_type: RouteType | None = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ProgrammeOut]:
    return await service.list_programmes(db=db, identity=identity, cursors=cursors,
                                         country=country, route_type=route_type, limit=limit,
                                         cursor=cursor)
