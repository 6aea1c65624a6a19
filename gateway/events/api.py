"""Routes of the event feed, webhook subscriptions and inbound ministry callbacks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from gateway.edge.caller import GatewayIdentity
from gateway.events import deliveries as webhook_deliveries
from gateway.events import feed, subscriptions
from gateway.events import inbound as inbound_callbacks
from gateway.events.schemas import (
    DeliveryOut,
    FeedPage,
    InboundBody,
    ReplayIn,
    SourceCreate,
    SourceOut,
    SourceWithSecret,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionWithSecret,
)
from shared.concurrency import IfMatch, etag
from shared.deps import CursorsDep, DbDep, SettingsDep
from shared.errors import problem_responses
from shared.pagination import Cursor, Limit, Page
from shared.peers import Peers

router = APIRouter(prefix="/v1", tags=["events and webhooks"])

SubId = Annotated[str, Path(max_length=36)]


async def gateway_peers(request: Request) -> Peers:
    return request.app.state.peers


PeersDep = Annotated[Peers, Depends(gateway_peers)]


@router.get("/events", response_model=FeedPage,
            responses=problem_responses(400, 401, 403, 422, 429),
            summary="The ordered event feed (resume from your last next_cursor)")
async def events(identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                 types: Annotated[str | None, Query(max_length=1000, description=(
                     "Comma-separated event types, e.g. referral.created,referral.overdue"))
                 ] = None,
                 limit: Limit = 100, cursor: Cursor = None) -> FeedPage:
    wanted = [t.strip() for t in (types or "").split(",") if t.strip()]
    return await feed.list_events(db=db, identity=identity, cursors=cursors, types=wanted,
                                  cursor=cursor, limit=limit)


@router.post("/webhook-subscriptions", status_code=201,
             response_model=SubscriptionWithSecret,
             responses=problem_responses(401, 403, 422, 429),
             summary="Register an endpoint; the signing secret is shown once")
async def create_subscription(data: SubscriptionCreate, identity: GatewayIdentity,
                              db: DbDep, settings: SettingsDep, response: Response
                              ) -> SubscriptionWithSecret:
    out = await subscriptions.create_subscription(db=db, identity=identity, settings=settings,
                                                  data=data)
    response.headers["Location"] = f"/v1/webhook-subscriptions/{out.id}"
    response.headers["ETag"] = etag(out.version)
    return out


@router.get("/webhook-subscriptions", response_model=list[SubscriptionOut],
            responses=problem_responses(401, 403, 429))
async def list_subscriptions(identity: GatewayIdentity, db: DbDep) -> list[SubscriptionOut]:
    return await subscriptions.list_subscriptions(db=db, identity=identity)


@router.get("/webhook-subscriptions/{sub_id}", response_model=SubscriptionOut,
            responses=problem_responses(401, 403, 404, 429))
async def get_subscription(sub_id: SubId, identity: GatewayIdentity, db: DbDep,
                           response: Response) -> SubscriptionOut:
    out = await subscriptions.get_subscription(db=db, identity=identity, sub_id=sub_id)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/rotate-secret",
             response_model=SubscriptionWithSecret,
             responses=problem_responses(401, 403, 404, 412, 428, 429),
             summary="New secret; both signatures are sent for 24 h")
async def rotate_secret(sub_id: SubId, identity: GatewayIdentity, db: DbDep,
                        settings: SettingsDep, expected: IfMatch, response: Response
                        ) -> SubscriptionWithSecret:
    out = await subscriptions.rotate_subscription_secret(
        db=db, identity=identity, settings=settings, sub_id=sub_id, expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/disable", response_model=SubscriptionOut,
             responses=problem_responses(401, 403, 404, 412, 428, 429))
async def disable(sub_id: SubId, identity: GatewayIdentity, db: DbDep, expected: IfMatch,
                  response: Response) -> SubscriptionOut:
    out = await subscriptions.set_subscription_status(db=db, identity=identity, sub_id=sub_id,
                                                      status="disabled", expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/enable", response_model=SubscriptionOut,
             responses=problem_responses(401, 403, 404, 412, 428, 429))
async def enable(sub_id: SubId, identity: GatewayIdentity, db: DbDep, expected: IfMatch,
                 response: Response) -> SubscriptionOut:
    out = await subscriptions.set_subscription_status(db=db, identity=identity, sub_id=sub_id,
                                                      status="active", expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/test", status_code=202,
             response_model=DeliveryOut, responses=problem_responses(401, 403, 404, 429),
             summary="Queue a signed test ping")
async def test(sub_id: SubId, identity: GatewayIdentity, db: DbDep, request: Request
               ) -> DeliveryOut:
    out = await webhook_deliveries.queue_test(db=db, identity=identity, sub_id=sub_id)
    _wake_worker(request)
    return out


@router.post("/webhook-subscriptions/{sub_id}/replay", status_code=202,
             responses=problem_responses(401, 403, 404, 422, 429),
             summary="Send again one delivery, or everything since a time")
async def replay(sub_id: SubId, data: ReplayIn, identity: GatewayIdentity, db: DbDep,
                 request: Request) -> dict[str, int]:
    queued = await webhook_deliveries.replay(db=db, identity=identity, sub_id=sub_id, data=data)
    _wake_worker(request)
    return {"queued": queued}


def _wake_worker(request: Request) -> None:
    """This process's delivery worker waits for work when idle: queued deliveries wake it."""
    hub = getattr(request.app.state, "hub", None)
    if hub is not None:
        hub.wake_delivery.set()


@router.get("/webhook-subscriptions/{sub_id}/deliveries",
            response_model=Page[DeliveryOut],
            responses=problem_responses(400, 401, 403, 404, 422, 429))
async def deliveries(sub_id: SubId, identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                     status: Annotated[str | None, Query(
                         pattern="^(pending|delivered|failed)$")] = None,
                     limit: Limit = 50, cursor: Cursor = None) -> Page[DeliveryOut]:
    return await webhook_deliveries.list_deliveries(
        db=db, identity=identity, cursors=cursors, sub_id=sub_id, status=status, cursor=cursor,
        limit=limit)


@router.post("/inbound-sources", status_code=201, response_model=SourceWithSecret,
             responses=problem_responses(401, 403, 409, 422, 429),
             summary="Register a ministry system that calls back (admin); secret shown once")
async def create_source(data: SourceCreate, identity: GatewayIdentity, db: DbDep,
                        settings: SettingsDep) -> SourceWithSecret:
    return await inbound_callbacks.create_source(db=db, identity=identity, settings=settings,
                                                 data=data)


@router.get("/inbound-sources", response_model=list[SourceOut],
            responses=problem_responses(401, 403, 429))
async def list_sources(identity: GatewayIdentity, db: DbDep) -> list[SourceOut]:
    return await inbound_callbacks.list_sources(db=db, identity=identity)


@router.post(
    "/inbound/{source}", responses=problem_responses(401, 409, 413, 422, 429, 503),
    summary="Signed callback from a ministry system (Standard Webhooks signature)",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": InboundBody.model_json_schema()}}}},
)
async def inbound(source: Annotated[str, Path(max_length=64)], request: Request, db: DbDep,
                  settings: SettingsDep, peers: PeersDep) -> dict[str, str]:
    body = await request.body()
    headers = {k: request.headers.get(k, "") for k in
               ("webhook-id", "webhook-timestamp", "webhook-signature")}
    return await inbound_callbacks.receive_inbound(db=db, peers=peers, settings=settings,
                                                   source_id=source, headers=headers, body=body)
