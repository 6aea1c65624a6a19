"""Thin routes of the caseworker's worklist (``/v1/worklist``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from services.registry.api import NO_STORE, OptionalIfMatch
from services.registry.schemas.worklist import AssignIn, SnoozeIn, WorklistItemOut
from services.registry.usecases.worklist import WorklistFilters, act_on_item, list_worklist
from services.registry.worklist import Kind
from shared.concurrency import etag
from shared.deps import CursorsDep, DbDep
from shared.errors import problem_responses
from shared.identity import CurrentIdentity
from shared.pagination import Cursor, Limit, Page
from shared.regions import RegionCode
from shared.text import OneLineText

router = APIRouter(prefix="/v1/worklist", tags=["worklist"])

ItemId = Annotated[str, Path(max_length=64, description="Worklist item id (UUID)"),
                   OneLineText]
ACTION = ("Optional `If-Match` (the item's ETag, checked when sent: 412 if it changed). "
          "An item of a person outside your scope is 404.")


def _item(body: bytes, version: int) -> Response:
    return Response(body, media_type="application/json",
                    headers={**NO_STORE, "ETag": etag(version)})


@router.get(
    "", operation_id="worklist_list", response_model=Page[WorklistItemOut],
    responses=problem_responses(400, 401, 403, 422),
    summary="What to act on, for the people you may see (caseworkers, coordinators)",
    description="Documents expiring (at the 60/30/7-day horizons) or expired, referrals "
                "past their deadline, consents expiring within 30 days, profiles received "
                "from another organisation — each with `next_step`. Soonest due first. "
                "Scoped like the profile lists (organisation, regions, consent). A person "
                "with a renewal in progress (an open referral to a renewal programme) has no "
                "document reminders. `within_days`: due within that many days of the "
                "country's today (past ones included). `status=acknowledged` lists what was "
                "acknowledged; snoozed items return on their day.",
)
async def worklist(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    kind: Kind | None = None,
    region: Annotated[RegionCode | None, Query()] = None,
    within_days: Annotated[int | None, Query(ge=0, le=366)] = None,
    status: Literal["open", "acknowledged"] = "open",
    limit: Limit = 50, cursor: Cursor = None,
) -> Response:
    filters = WorklistFilters(kind=kind.value if kind else None, region=region,
                              within_days=within_days, status=status)
    body = await list_worklist(db=db, identity=identity, cursors=cursors, filters=filters,
                               limit=limit, cursor=cursor)
    return Response(body, media_type="application/json", headers=NO_STORE)


@router.post(
    "/{item_id}/acknowledge", operation_id="worklist_acknowledge",
    response_model=WorklistItemOut, responses=problem_responses(401, 403, 404, 412, 422),
    summary="Acknowledge an item (off the open list until a new horizon reopens it)",
    description=ACTION,
)
async def acknowledge(item_id: ItemId, identity: CurrentIdentity, db: DbDep,
                      expected: OptionalIfMatch = None) -> Response:
    return _item(*await act_on_item(db=db, identity=identity, item_id=item_id,
                                    action="acknowledge", expected=expected))


@router.post(
    "/{item_id}/snooze", operation_id="worklist_snooze",
    response_model=WorklistItemOut, responses=problem_responses(401, 403, 404, 412, 422),
    summary="Snooze an item until a day (the country's), at most a year ahead",
    description=ACTION,
)
async def snooze(item_id: ItemId, data: SnoozeIn, identity: CurrentIdentity, db: DbDep,
                 expected: OptionalIfMatch = None) -> Response:
    return _item(*await act_on_item(db=db, identity=identity, item_id=item_id,
                                    action="snooze", expected=expected, until=data.until))


@router.post(
    "/{item_id}/assign", operation_id="worklist_assign",
    response_model=WorklistItemOut, responses=problem_responses(401, 403, 404, 412, 422),
    summary="Assign an item to a caseworker",
    description=ACTION,
)
async def assign(item_id: ItemId, data: AssignIn, identity: CurrentIdentity, db: DbDep,
                 expected: OptionalIfMatch = None) -> Response:
    return _item(*await act_on_item(db=db, identity=identity, item_id=item_id,
                                    action="assign", expected=expected,
                                    assignee=data.assignee))
