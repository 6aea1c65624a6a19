"""Thin routes of the referrals service: the catalogue (programmes, providers),
recommendations, referrals and pathways. Static paths (``/v1/pathways/templates``) are
registered before ``/{id}`` so they never read as an id."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.referrals.lifecycle import Status
from services.referrals.pathways import PathwayStatus, TemplateSet
from services.referrals.repository import ReferralFilters
from services.referrals.rules import RuleSet
from services.referrals.schemas.catalogue import (
    ProgrammeCreate,
    ProgrammeOut,
    ProgrammeUpdate,
    ProviderCreate,
    ProviderOut,
    ProviderUpdate,
)
from services.referrals.schemas.pathways import (
    PathwayCreate,
    PathwayOut,
    PathwayTransitionIn,
    TemplatesOut,
)
from services.referrals.schemas.recommendations import RecommendationsOut
from services.referrals.schemas.referrals import (
    HistoryOut,
    ReferralCreate,
    ReferralOut,
    TransitionIn,
)
from services.referrals.schemas.types import Country, RouteType
from services.referrals.usecases import catalogue, pathways, referrals
from services.referrals.usecases import recommendations as recommending
from shared.concurrency import IfMatch, etag
from shared.deps import CursorsDep, DbDep, Idempotency, IsoDate, PeersDep
from shared.errors import problem_responses
from shared.http import respond
from shared.identity import CurrentIdentity
from shared.pagination import Cursor, Limit, Page
from shared.regions import RegionCode

programmes_router = APIRouter(prefix="/v1/programs", tags=["programs"])
providers_router = APIRouter(prefix="/v1/providers", tags=["providers"])
recommendations_router = APIRouter(prefix="/v1/profiles", tags=["recommendations"])
referrals_router = APIRouter(prefix="/v1/referrals", tags=["referrals"])
pathways_router = APIRouter(prefix="/v1/pathways", tags=["pathways"])

SlugPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Slug")]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,36}$", description="Id (UUID)")]
SlugQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
IdQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{1,36}$")]
OrgQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
NO_STORE = {"Cache-Control": "no-store"}


def _rules(request: Request) -> RuleSet:
    rules: RuleSet = request.app.state.rules
    return rules


def _templates(request: Request) -> TemplateSet:
    templates: TemplateSet = request.app.state.templates
    return templates


# --- programmes ------------------------------------------------------------------------------
@programmes_router.get(
    "", operation_id="programs_list",
    response_model=Page[ProgrammeOut], responses=problem_responses(400, 401, 403, 422),
    summary="List the route catalogue",
    description="Filters: `country`, `route_type`, `region` (served by the programme); "
                "`include_inactive` lists withdrawn programmes too.")
async def list_programmes(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    country: Country | None = None, route_type: RouteType | None = None,
    region: Annotated[RegionCode | None, Query()] = None, include_inactive: bool = False,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ProgrammeOut]:
    return await catalogue.list_programmes(
        db=db, identity=identity, cursors=cursors, country=country, route_type=route_type,
        region=region, include_inactive=include_inactive, limit=limit, cursor=cursor)


@programmes_router.post(
    "", operation_id="programs_create", status_code=201, response_model=ProgrammeOut,
    responses=problem_responses(401, 403, 409, 422), summary="Add a programme (admin)")
async def create_programme(data: ProgrammeCreate, identity: CurrentIdentity, db: DbDep,
                           idempotency: Idempotency) -> Response:
    """Adds a programme to the route catalogue (admin only): its route type, countries, regions,
    requirements and modules."""
    return respond(await catalogue.create_programme(db=db, identity=identity, data=data,
                                                    idempotency=idempotency))


@programmes_router.get("/{programme_id}", operation_id="programs_read", response_model=ProgrammeOut,
                       responses=problem_responses(401, 403, 404, 422),
                       summary="Read a programme")
async def get_programme(programme_id: SlugPath, identity: CurrentIdentity, db: DbDep,
                        response: Response) -> ProgrammeOut:
    """Reads one programme of the catalogue; its `ETag` is the version for If-Match."""
    out = await catalogue.get_programme(db=db, programme_id=programme_id)
    response.headers["ETag"] = etag(out.version)
    return out


@programmes_router.patch(
    "/{programme_id}", operation_id="programs_update", response_model=ProgrammeOut,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
    summary="Edit a programme (admin; If-Match required)")
async def update_programme(programme_id: SlugPath, data: ProgrammeUpdate,
                           identity: CurrentIdentity, db: DbDep, expected: IfMatch,
                           response: Response) -> ProgrammeOut:
    """Edits a programme of the catalogue (admin only). Requires If-Match with the version read."""
    out = await catalogue.update_programme(
        db=db, identity=identity, programme_id=programme_id, data=data, expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


# --- providers -------------------------------------------------------------------------------
@providers_router.get(
    "", operation_id="providers_list",
    response_model=Page[ProviderOut], responses=problem_responses(400, 401, 403, 422),
    summary="List providers",
    description="Filters: `country`, `programme_id` (delivers it), `region` (serves it), "
                "`organisation_id`; `include_inactive` lists withdrawn providers too.")
async def list_providers(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    country: Country | None = None, programme_id: SlugQuery = None,
    region: Annotated[RegionCode | None, Query()] = None, organisation_id: OrgQuery = None,
    include_inactive: bool = False, limit: Limit = 50, cursor: Cursor = None,
) -> Page[ProviderOut]:
    return await catalogue.list_providers(
        db=db, identity=identity, cursors=cursors, country=country, programme_id=programme_id,
        region=region, organisation_id=organisation_id, include_inactive=include_inactive,
        limit=limit, cursor=cursor)


@providers_router.post(
    "", operation_id="providers_create", status_code=201, response_model=ProviderOut,
    responses=problem_responses(401, 403, 409, 422), summary="Add a provider (admin)")
async def create_provider(data: ProviderCreate, identity: CurrentIdentity, db: DbDep,
                          idempotency: Idempotency) -> Response:
    """Adds a provider (admin only): the programmes it delivers, the regions it serves and its
    response time (SLA)."""
    return respond(await catalogue.create_provider(db=db, identity=identity, data=data,
                                                   idempotency=idempotency))


@providers_router.get("/{provider_id}", operation_id="providers_read", response_model=ProviderOut,
                      responses=problem_responses(401, 403, 404, 422),
                      summary="Read a provider")
async def get_provider(provider_id: SlugPath, identity: CurrentIdentity, db: DbDep,
                       response: Response) -> ProviderOut:
    """Reads one provider; its `ETag` is the version for If-Match."""
    out = await catalogue.get_provider(db=db, provider_id=provider_id)
    response.headers["ETag"] = etag(out.version)
    return out


@providers_router.patch(
    "/{provider_id}", operation_id="providers_update", response_model=ProviderOut,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
    summary="Edit a provider (admin; If-Match required)",
    description="SLA changes apply to referrals made afterwards.")
async def update_provider(provider_id: SlugPath, data: ProviderUpdate,
                          identity: CurrentIdentity, db: DbDep, expected: IfMatch,
                          response: Response) -> ProviderOut:
    out = await catalogue.update_provider(db=db, identity=identity, provider_id=provider_id,
                                          data=data, expected=expected)
    response.headers["ETag"] = etag(out.version)
    return out


# --- recommendations -------------------------------------------------------------------------
@recommendations_router.get(
    "/{profile_id}/recommendations", operation_id="recommendations_list",
    response_model=RecommendationsOut,
    responses=problem_responses(401, 403, 404, 410, 503, 504),
    summary="Routes that fit this person, in order, with reasons and missing requirements",
    description="Applies the recommendation rules (data, versioned: `rules_version`) to "
                "the person's profile (registry) and credentials (credentials service), "
                "both read as you: a person you may not see is 404. Relevant programmes "
                "come first, by score; each item says whether the person is `eligible` "
                "now and, if not, what is `missing` (codes such as `degree_not_apostilled`, "
                "`no_work_authorisation`, `outside_programme_regions`).")
async def recommendations(profile_id: IdPath, identity: CurrentIdentity, db: DbDep,
                          peers: PeersDep, request: Request) -> Response:
    out = await recommending.recommendations(db=db, peers=peers, identity=identity,
                                             rules=_rules(request), profile_id=profile_id)
    return Response(out.model_dump_json().encode(), media_type="application/json",
                    headers=NO_STORE)


# --- referrals -------------------------------------------------------------------------------
@referrals_router.post(
    "", operation_id="referrals_create", status_code=201, response_model=ReferralOut,
    responses=problem_responses(401, 403, 409, 422, 503, 504),
    summary="Refer a person to a provider's programme (idempotent)",
    description="Only with the person's consent to share their data with the provider's "
                "organisation for a referral: otherwise 409 `consent-required`, whose "
                "`missing_consent` names the purpose and the recipient. At most one open "
                "referral of a person to a programme (409 `referral-already-open`); a "
                "provider at capacity is 409 `provider-at-capacity`. Due dates come from "
                "the provider's SLA. Send `Idempotency-Key` to retry safely.")
async def create_referral(data: ReferralCreate, identity: CurrentIdentity, db: DbDep,
                          peers: PeersDep, idempotency: Idempotency) -> Response:
    return respond(await referrals.create_referral(db=db, peers=peers, identity=identity,
                                                   data=data, idempotency=idempotency))


@referrals_router.get(
    "", operation_id="referrals_list",
    response_model=Page[ReferralOut], responses=problem_responses(400, 401, 403, 422),
    summary="List the referrals you may see",
    description="Referring organisations see the referrals they made (in their regions), "
                "providers and their ministry systems those addressed to them. Newest "
                "first. `overdue=true`: waiting for the provider past a deadline. "
                "`at_risk=true`: open, and the person's work authorisation lapsed. "
                "`created_from`/`created_to` bound the creation date (to is exclusive).")
async def list_referrals(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    status: Status | None = None, programme_id: SlugQuery = None,
    provider_id: SlugQuery = None, region: Annotated[RegionCode | None, Query()] = None,
    profile_id: IdQuery = None, pathway_id: IdQuery = None,
    route_type: RouteType | None = None, overdue: bool | None = None,
    at_risk: bool | None = None,
    created_from: IsoDate | None = None, created_to: IsoDate | None = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[ReferralOut]:
    filters = ReferralFilters(
        status=status.value if status else None, programme_id=programme_id,
        provider_id=provider_id, region=region, profile_id=profile_id, pathway_id=pathway_id,
        route_type=route_type.value if route_type else None, overdue=overdue,
        at_risk=at_risk, created_from=_start(created_from), created_to=_start(created_to))
    return await referrals.list_referrals(db=db, identity=identity, cursors=cursors,
                                          filters=filters, limit=limit, cursor=cursor)


def _start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


@referrals_router.get("/{referral_id}", operation_id="referrals_read", response_model=ReferralOut,
                      responses=problem_responses(401, 403, 404, 422),
                      summary="Read a referral")
async def get_referral(referral_id: IdPath, identity: CurrentIdentity, db: DbDep,
                       response: Response) -> ReferralOut:
    """Reads a referral: person, programme, provider, state, due date of the provider's answer and
    outcome. Its `ETag` is the version for If-Match."""
    out = await referrals.get_referral(db=db, identity=identity, referral_id=referral_id)
    response.headers["ETag"] = etag(out.version)
    response.headers["Cache-Control"] = "no-store"
    return out


@referrals_router.get("/{referral_id}/history", operation_id="referrals_history",
                      response_model=HistoryOut,
                      responses=problem_responses(401, 403, 404, 422),
                      summary="Every transition: who, when, from where to where, and why")
async def referral_history(referral_id: IdPath, identity: CurrentIdentity, db: DbDep,
                           response: Response) -> HistoryOut:
    """Lists every transition of the referral in order: who, when, from which state to which, and
    the reason."""
    response.headers["Cache-Control"] = "no-store"
    return await referrals.referral_history(db=db, identity=identity, referral_id=referral_id)


@referrals_router.post(
    "/{referral_id}/transitions", operation_id="referrals_transition", response_model=ReferralOut,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, 503, 504),
    summary="Move a referral along its lifecycle (If-Match required)",
    description="Actions: `accept`, `reject` (reason and `reason_code`), `start`, `hold` "
                "(reason), `resume`, `complete` (an `outcome` of the programme's "
                "`outcome_kind`), `fail` (reason and `reason_code`) — by the provider's "
                "organisation or its ministry system; `cancel` (reason) — by the referring "
                "organisation. `If-Match: *` accepts any version (signed ministry "
                "callbacks). An action the state does not allow is 409 with the allowed "
                "ones. Completing a pathway step opens the next one.")
async def transition_referral(referral_id: IdPath, data: TransitionIn,
                              identity: CurrentIdentity, db: DbDep, peers: PeersDep,
                              expected: IfMatch, idempotency: Idempotency) -> Response:
    return respond(await referrals.transition_referral(
        db=db, peers=peers, identity=identity, referral_id=referral_id, data=data,
        expected=expected, idempotency=idempotency))


# --- pathways --------------------------------------------------------------------------------
@pathways_router.get("/templates", operation_id="pathway_templates_list",
                     response_model=TemplatesOut,
                     responses=problem_responses(401, 403),
                     summary="The pathway templates (multi-step routes)")
async def templates(identity: CurrentIdentity, request: Request) -> TemplatesOut:
    """Lists the pathway templates: multi-step routes and their steps, to start a person's pathway
    from."""
    return pathways.templates_out(_templates(request))


@pathways_router.post(
    "", operation_id="pathways_create", status_code=201, response_model=PathwayOut,
    responses=problem_responses(401, 403, 409, 422, 503, 504),
    summary="Start a person's multi-step pathway from a template (idempotent)",
    description="Opens the first step as a referral (the person's consent to share with "
                "its provider is required, as for any referral: else 409 "
                "`consent-required`). Completing a step opens the next; a rejected, failed "
                "or cancelled step holds the pathway (`held_reason`).")
async def create_pathway(data: PathwayCreate, identity: CurrentIdentity, db: DbDep,
                         peers: PeersDep, idempotency: Idempotency, request: Request
                         ) -> Response:
    return respond(await pathways.create_pathway(
        db=db, peers=peers, identity=identity, templates=_templates(request), data=data,
        idempotency=idempotency))


@pathways_router.get(
    "", operation_id="pathways_list",
    response_model=Page[PathwayOut], responses=problem_responses(400, 401, 403, 422),
    summary="List pathways (e.g. a person's)")
async def list_pathways(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep, profile_id: IdQuery = None,
    status: PathwayStatus | None = None, template: SlugQuery = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[PathwayOut]:
    """Lists the pathways the caller may see, e.g. a person's with `profile_id`, paginated with
    `limit` and `cursor`."""
    return await pathways.list_pathways(
        db=db, identity=identity, cursors=cursors, profile_id=profile_id,
        status=status.value if status else None, template=template, limit=limit,
        cursor=cursor)


@pathways_router.get("/{pathway_id}", operation_id="pathways_read", response_model=PathwayOut,
                     responses=problem_responses(401, 403, 404, 422),
                     summary="A pathway's whole state: steps, their referrals, why it waits")
async def get_pathway(pathway_id: IdPath, identity: CurrentIdentity, db: DbDep,
                      response: Response) -> PathwayOut:
    """Reads a pathway's whole state: its steps, the referral of each, and why it waits if it is
    on hold. Its `ETag` is the version for If-Match."""
    out = await pathways.get_pathway(db=db, identity=identity, pathway_id=pathway_id)
    response.headers["ETag"] = etag(out.version)
    response.headers["Cache-Control"] = "no-store"
    return out


@pathways_router.post(
    "/{pathway_id}/transitions", operation_id="pathways_transition", response_model=PathwayOut,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, 503, 504),
    summary="Resume a pathway on hold, or cancel it (If-Match required)",
    description="`resume` opens a new referral for the held step (optionally to another "
                "`provider_id`; consent checked); `cancel` ends the pathway and cancels its "
                "open step's referral.")
async def transition_pathway(pathway_id: IdPath, data: PathwayTransitionIn,
                             identity: CurrentIdentity, db: DbDep, peers: PeersDep,
                             expected: IfMatch, idempotency: Idempotency) -> Response:
    return respond(await pathways.transition_pathway(
        db=db, peers=peers, identity=identity, pathway_id=pathway_id, data=data,
        expected=expected, idempotency=idempotency))


routers = [programmes_router, providers_router, recommendations_router, referrals_router,
           pathways_router]
