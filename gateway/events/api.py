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
from shared.text import OneLineText

router = APIRouter(prefix="/v1", tags=["events and webhooks"])

SubId = Annotated[str, Path(max_length=36), OneLineText]


async def gateway_peers(request: Request) -> Peers:
    return request.app.state.peers


PeersDep = Annotated[Peers, Depends(gateway_peers)]


@router.get("/events", operation_id="events_list", response_model=FeedPage,
            responses=problem_responses(400, 401, 403, 422, 429),
            summary="The ordered event feed (resume from your last next_cursor)")
async def events(identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                 settings: SettingsDep,
                 types: Annotated[str | None, Query(max_length=1000, description=(
                     "Comma-separated event types, e.g. referral.created,referral.overdue")),
                                  OneLineText] = None,
                 limit: Limit = 100, cursor: Cursor = None) -> Response:
    """The ordered feed of domain events visible to the caller's organisation (oldest first).
    Filter with `types`; resume from the last page's `next_cursor`, which only the caller it
    was given to may present. A cursor kept from before cursors were bound to their caller
    works until `RUTA_LEGACY_FEED_CURSORS_UNTIL` for the first caller that presents it, and
    the page answered carries a cursor bound to that caller."""
    wanted = [t.strip() for t in (types or "").split(",") if t.strip()]
    page = await feed.list_events(db=db, identity=identity, cursors=cursors, types=wanted,
                                  cursor=cursor, limit=limit,
                                  legacy_until=settings.legacy_feed_cursors_until)
    # serialised once, by the page's own schema: FastAPI would validate the 100 items again
    # against response_model first (docs/decisions/0017)
    return Response(page.model_dump_json().encode(), media_type="application/json")


@router.post("/webhook-subscriptions", operation_id="webhook_subscriptions_create", status_code=201,
             response_model=SubscriptionWithSecret,
             responses=problem_responses(401, 403, 422, 429),
             summary="Register an endpoint; the signing secret is shown once")
async def create_subscription(data: SubscriptionCreate, identity: GatewayIdentity,
                              db: DbDep, settings: SettingsDep, response: Response
                              ) -> SubscriptionWithSecret:
    """Registers an HTTPS endpoint to receive events by type, signed with Standard Webhooks
    signatures. The signing secret is in this response only, so this write is not replayed by
    Idempotency-Key."""
    out = await subscriptions.create_subscription(db=db, identity=identity, settings=settings,
                                                  data=data)
    response.headers["Location"] = f"/v1/webhook-subscriptions/{out.id}"
    response.headers["ETag"] = etag(out.version)
    return out


@router.get("/webhook-subscriptions", operation_id="webhook_subscriptions_list",
            summary="List your webhook subscriptions",
            response_model=list[SubscriptionOut],
            responses=problem_responses(401, 403, 429))
async def list_subscriptions(identity: GatewayIdentity, db: DbDep) -> list[SubscriptionOut]:
    """Lists the caller organisation's webhook subscriptions (without secrets)."""
    return await subscriptions.list_subscriptions(db=db, identity=identity)


@router.get("/webhook-subscriptions/{sub_id}", operation_id="webhook_subscriptions_read",
            summary="Read a webhook subscription",
            response_model=SubscriptionOut,
            responses=problem_responses(401, 403, 404, 429))
async def get_subscription(sub_id: SubId, identity: GatewayIdentity, db: DbDep,
                           response: Response) -> SubscriptionOut:
    """Reads one webhook subscription; its `ETag` is the version for If-Match."""
    out = await subscriptions.get_subscription(db=db, identity=identity, sub_id=sub_id)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/rotate-secret",
             operation_id="webhook_subscriptions_rotate_secret",
             response_model=SubscriptionWithSecret,
             responses=problem_responses(401, 403, 404, 412, 428, 429),
             summary="New secret; both signatures are sent for 24 h")
async def rotate_secret(sub_id: SubId, identity: GatewayIdentity, db: DbDep,
                        settings: SettingsDep, expected: IfMatch, response: Response
                        ) -> SubscriptionWithSecret:
    """Issues a new signing secret (shown once); deliveries carry both signatures for 24 hours.
    Requires If-Match."""
    out = await subscriptions.rotate_subscription_secret(
        db=db, identity=identity, settings=settings, sub_id=sub_id, expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/disable",
             operation_id="webhook_subscriptions_disable",
             summary="Pause deliveries to an endpoint (If-Match required)",
             response_model=SubscriptionOut,
             responses=problem_responses(401, 403, 404, 412, 428, 429))
async def disable(sub_id: SubId, identity: GatewayIdentity, db: DbDep, expected: IfMatch,
                  response: Response) -> SubscriptionOut:
    """Stops deliveries to this subscription (events keep being recorded in the feed). Requires
    If-Match."""
    out = await subscriptions.set_subscription_status(db=db, identity=identity, sub_id=sub_id,
                                                      status="disabled", expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/enable", operation_id="webhook_subscriptions_enable",
             summary="Resume deliveries to an endpoint (If-Match required)",
             response_model=SubscriptionOut,
             responses=problem_responses(401, 403, 404, 412, 428, 429))
async def enable(sub_id: SubId, identity: GatewayIdentity, db: DbDep, expected: IfMatch,
                 response: Response) -> SubscriptionOut:
    """Resumes deliveries to a disabled subscription. Requires If-Match."""
    out = await subscriptions.set_subscription_status(db=db, identity=identity, sub_id=sub_id,
                                                      status="active", expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post("/webhook-subscriptions/{sub_id}/test", operation_id="webhook_subscriptions_test",
             status_code=202,
             response_model=DeliveryOut, responses=problem_responses(401, 403, 404, 409, 429),
             summary="Queue a signed test ping")
async def test(sub_id: SubId, identity: GatewayIdentity, db: DbDep, request: Request
               ) -> DeliveryOut:
    """Queues a signed `ping` delivery to the endpoint, to check its signature verification.
    A disabled subscription takes no ping (409): enable it first."""
    out = await webhook_deliveries.queue_test(db=db, identity=identity, sub_id=sub_id)
    _wake_worker(request)
    return out


@router.post("/webhook-subscriptions/{sub_id}/replay", operation_id="webhook_subscriptions_replay",
             status_code=202,
             responses=problem_responses(401, 403, 404, 422, 429),
             summary="Send again one delivery, or everything since a time")
async def replay(sub_id: SubId, data: ReplayIn, identity: GatewayIdentity, db: DbDep,
                 request: Request) -> dict[str, int]:
    """Queues again one delivery (`delivery_id`) or every event since a time (`since`); answers
    how many were queued."""
    queued = await webhook_deliveries.replay(db=db, identity=identity, sub_id=sub_id, data=data)
    _wake_worker(request)
    return {"queued": queued}


def _wake_worker(request: Request) -> None:
    """This process's delivery worker waits for work when idle: queued deliveries wake it."""
    hub = getattr(request.app.state, "hub", None)
    if hub is not None:
        hub.wake_delivery.set()


@router.get("/webhook-subscriptions/{sub_id}/deliveries", operation_id="webhook_deliveries_list",
            summary="A subscription's deliveries and their outcome",
            response_model=Page[DeliveryOut],
            responses=problem_responses(400, 401, 403, 404, 422, 429))
async def deliveries(sub_id: SubId, identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                     status: Annotated[str | None, Query(
                         pattern="^(pending|delivered|failed)$")] = None,
                     limit: Limit = 50, cursor: Cursor = None) -> Page[DeliveryOut]:
    """Lists a subscription's deliveries with their status, attempts and last response, filtered
    by `status`, paginated with `limit` and `cursor`."""
    return await webhook_deliveries.list_deliveries(
        db=db, identity=identity, cursors=cursors, sub_id=sub_id, status=status, cursor=cursor,
        limit=limit)


@router.post("/inbound-sources", operation_id="inbound_sources_create",
             status_code=201, response_model=SourceWithSecret,
             responses=problem_responses(401, 403, 409, 422, 429),
             summary="Register a ministry system that calls back (admin); secret shown once")
async def create_source(data: SourceCreate, identity: GatewayIdentity, db: DbDep,
                        settings: SettingsDep) -> SourceWithSecret:
    """Registers a ministry system allowed to call `/v1/inbound/{source}`, with the event types it
    may send. The signing secret is in this response only, so this write is not replayed by
    Idempotency-Key."""
    return await inbound_callbacks.create_source(db=db, identity=identity, settings=settings,
                                                 data=data)


@router.get("/inbound-sources", operation_id="inbound_sources_list",
            summary="List the ministry systems that call back (admin)",
            response_model=list[SourceOut],
            responses=problem_responses(401, 403, 429))
async def list_sources(identity: GatewayIdentity, db: DbDep) -> list[SourceOut]:
    """Lists the registered inbound sources (without secrets)."""
    return await inbound_callbacks.list_sources(db=db, identity=identity)


@router.post(
    "/inbound/{source}", operation_id="inbound_callbacks_receive",
    responses=problem_responses(401, 409, 413, 422, 429, 503),
    summary="Signed callback from a ministry system (Standard Webhooks signature)",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": InboundBody.model_json_schema()}}}},
)
async def inbound(source: Annotated[str, Path(max_length=64), OneLineText], request: Request,
                  db: DbDep, settings: SettingsDep, peers: PeersDep) -> dict[str, str]:
    """Receives a decision from a registered ministry system (e.g. SUNEDU's recognition of a
    degree), or a public employment service's vacancy (`vacancy.upsert`). Authenticated by
    its Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
    not by a token; a replayed `webhook-id` is answered once."""
    body = await request.body()
    headers = {k: request.headers.get(k, "") for k in
               ("webhook-id", "webhook-timestamp", "webhook-signature")}
    return await inbound_callbacks.receive_inbound(db=db, peers=peers, settings=settings,
                                                   source_id=source, headers=headers, body=body)
