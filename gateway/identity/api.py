"""The gateway's own routes: OAuth token endpoint, JWKS, organisations and clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.responses import JSONResponse

from gateway.edge.caller import GatewayIdentity
from gateway.identity import machine_clients, organisations
from gateway.identity.errors import OAuthError
from gateway.identity.keys import KeyStore
from gateway.identity.oauth import (
    NO_STORE,
    issue_token,
    oauth_error_response,
    read_token_request,
)
from gateway.identity.schemas import (
    ClientCreate,
    ClientOut,
    ClientWithSecret,
    Me,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    TokenResponse,
)
from shared.concurrency import IfMatch, etag
from shared.deps import CursorsDep, DbDep, IdempotencyHeader, SettingsDep, idempotency_for
from shared.errors import problem_responses
from shared.http import respond
from shared.idempotency import IdempotencyKey
from shared.pagination import Cursor, Limit, Page
from shared.text import OneLineText


async def key_store(request: Request) -> KeyStore:
    return request.app.state.keys


KeysDep = Annotated[KeyStore, Depends(key_store)]


async def gateway_idempotency(request: Request, identity: GatewayIdentity,
                              key: IdempotencyHeader = None) -> IdempotencyKey | None:
    return await idempotency_for(request, identity.subject, key)


Idempotency = Annotated[IdempotencyKey | None, Depends(gateway_idempotency)]


oauth = APIRouter(tags=["auth"])
admin = APIRouter(prefix="/v1", tags=["administration"])  # and /v1/me, for everyone

OrgId = Annotated[str, Path(max_length=64), OneLineText]
ClientId = Annotated[str, Path(max_length=64), OneLineText]


# RFC 6749 section 5.2: OAuth client libraries expect this shape, not a problem document.
OAUTH_ERROR = {"application/json": {"schema": {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string", "enum": [
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
        "unsupported_grant_type", "invalid_scope"]},
        "error_description": {"type": "string"}, "error_uri": {"type": "string"}}}}}


@oauth.post(
    "/oauth/token", operation_id="tokens_issue",
    response_model=TokenResponse, summary="OAuth2 client credentials token",
    responses={400: {"description": "RFC 6749 error (invalid_request, invalid_scope, "
                     "unsupported_grant_type)", "content": OAUTH_ERROR},
               401: {"description": "RFC 6749 invalid_client", "content": OAUTH_ERROR},
               429: {"description": "Too many requests"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type"],
            "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                           "client_id": {"type": "string"},
                           "client_secret": {"type": "string"},
                           "scope": {"type": "string"}}}}}}},
)
async def token(request: Request, db: DbDep, keys: KeysDep, settings: SettingsDep
                ) -> Response:
    """Exchanges a machine client's id and secret (OAuth2 client credentials, form-encoded or HTTP
    Basic) for a short-lived access token carrying the client's role and granted scopes. Errors
    follow RFC 6749 (`error`, `error_description`), not problem details."""
    try:
        asked = await read_token_request(request)
        issued = await issue_token(db=db, keys=keys, settings=settings, request=asked)
    except OAuthError as exc:
        return oauth_error_response(exc)
    return JSONResponse(issued.model_dump(), headers=NO_STORE)


@oauth.get("/.well-known/jwks.json", operation_id="token_keys_read",
           summary="Public keys of the access tokens")
async def jwks(keys: KeysDep) -> JSONResponse:
    """The public keys (JWKS) that verify the gateway's access tokens; cacheable for five minutes.
    Keys are rotated with an overlap, so refresh on an unknown `kid`."""
    await keys.maybe_refresh()
    return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


@admin.get("/me", operation_id="me_read", response_model=Me, responses=problem_responses(401, 429),
           summary="Who the gateway takes the caller to be (role, organisation, regions)")
async def me(identity: GatewayIdentity) -> Me:
    """Returns the identity the gateway derived from the bearer token: subject, kind (person or
    client), role, organisation, regions, permissions and, for machine clients, scopes."""
    return Me(subject=identity.subject, kind=identity.kind, role=identity.role.value,
              organisation_id=identity.organisation_id, regions=sorted(identity.regions),
              permissions=sorted(identity.permissions),
              scopes=sorted(identity.scopes) if identity.scopes is not None else None)


# --- organisations ----------------------------------------------------------------------

@admin.post("/organisations", operation_id="organisations_create",
            status_code=201, response_model=OrganisationOut,
            responses=problem_responses(401, 403, 409, 422, 429),
            summary="Register an organisation (admin)")
async def create_organisation(data: OrganisationCreate, identity: GatewayIdentity,
                              db: DbDep, idempotency: Idempotency) -> Response:
    """Registers a partner organisation and the regions it works in; people's accounts and machine
    clients belong to one. Accepts Idempotency-Key."""
    return respond(await organisations.create_organisation(
        db=db, identity=identity, data=data, idempotency=idempotency))


@admin.get("/organisations", operation_id="organisations_list",
           summary="List organisations (admin)",
           response_model=Page[OrganisationOut],
           responses=problem_responses(400, 401, 403, 422, 429))
async def list_organisations(identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                             limit: Limit = 50, cursor: Cursor = None) -> Page[OrganisationOut]:
    """Lists the registered organisations, paginated with `limit` and `cursor` (`next_cursor` in
    the page)."""
    return await organisations.list_organisations(db=db, identity=identity, cursors=cursors,
                                                  limit=limit, cursor=cursor)


@admin.get("/organisations/{organisation_id}", operation_id="organisations_read",
           summary="Read an organisation (admin)",
           response_model=OrganisationOut,
           responses=problem_responses(401, 403, 404, 429))
async def get_organisation(organisation_id: OrgId, identity: GatewayIdentity, db: DbDep,
                           response: Response) -> OrganisationOut:
    """Reads one organisation; its `ETag` is the version to send in If-Match when updating it."""
    org = await organisations.get_organisation(db=db, identity=identity,
                                               organisation_id=organisation_id)
    response.headers["ETag"] = etag(org.version)
    return org


@admin.patch("/organisations/{organisation_id}", operation_id="organisations_update",
             summary="Update an organisation (admin; If-Match required)",
             response_model=OrganisationOut,
             responses=problem_responses(401, 403, 404, 412, 422, 428, 429))
async def update_organisation(organisation_id: OrgId, data: OrganisationUpdate,
                              identity: GatewayIdentity, db: DbDep, expected: IfMatch,
                              response: Response) -> OrganisationOut:
    """Changes an organisation's name, regions or status (`active`, `suspended`). Requires If-
    Match with the version read."""
    org = await organisations.update_organisation(db=db, identity=identity,
                                                  organisation_id=organisation_id, data=data,
                                                  expected=expected)
    response.headers["ETag"] = etag(org.version)
    return org


# --- clients ------------------------------------------------------------------------------

@admin.post("/clients", operation_id="clients_create",
            status_code=201, response_model=ClientWithSecret,
            responses=problem_responses(401, 403, 422, 429),
            summary="Register a machine client (admin); the secret is shown once")
async def create_client(data: ClientCreate, identity: GatewayIdentity, db: DbDep,
                        response: Response) -> ClientWithSecret:
    """Registers a machine client (an NGO's or ministry's system) with a role, an organisation,
    regions and scopes. The secret is in this response only, so this write is not replayed by
    Idempotency-Key."""
    client = await machine_clients.create_client(db=db, identity=identity, data=data)
    response.headers["ETag"] = etag(client.version)
    response.headers["Location"] = f"/v1/clients/{client.client_id}"
    response.headers["Cache-Control"] = "no-store"
    return client


@admin.get("/clients", operation_id="clients_list",
           summary="List machine clients (admin)", response_model=Page[ClientOut],
           responses=problem_responses(400, 401, 403, 422, 429))
async def list_clients(identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                       organisation_id: Annotated[str, OneLineText] | None = None,
                       limit: Limit = 50,
                       cursor: Cursor = None) -> Page[ClientOut]:
    """Lists machine clients, optionally of one organisation, paginated with `limit` and `cursor`.
    Secrets are never returned."""
    return await machine_clients.list_clients(db=db, identity=identity, cursors=cursors,
                                              organisation_id=organisation_id, limit=limit,
                                              cursor=cursor)


@admin.get("/clients/{client_id}", operation_id="clients_read",
           summary="Read a machine client (admin)", response_model=ClientOut,
           responses=problem_responses(401, 403, 404, 429))
async def get_client(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                     response: Response) -> ClientOut:
    """Reads one machine client (without its secret); its `ETag` is the version for If-Match."""
    client = await machine_clients.get_client(db=db, identity=identity, client_id=client_id)
    response.headers["ETag"] = etag(client.version)
    return client


@admin.post("/clients/{client_id}/rotate-secret", operation_id="clients_rotate_secret",
            response_model=ClientWithSecret,
            responses=problem_responses(401, 403, 404, 412, 428, 429),
            summary="New secret; the previous one keeps working during the overlap period")
async def rotate_secret(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                        settings: SettingsDep, expected: IfMatch, response: Response
                        ) -> ClientWithSecret:
    """Issues a new secret (shown once in this response); the previous one keeps working during
    the configured overlap. Requires If-Match."""
    client = await machine_clients.rotate_client_secret(
        db=db, identity=identity, settings=settings, client_id=client_id, expected=expected)
    response.headers["ETag"] = etag(client.version)
    response.headers["Cache-Control"] = "no-store"
    return client


@admin.post("/clients/{client_id}/disable", operation_id="clients_disable",
            response_model=ClientOut,
            responses=problem_responses(401, 403, 404, 412, 428, 429),
            summary="Disable a client: its tokens stop working at once")
async def disable_client(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                         keys: KeysDep, expected: IfMatch, response: Response) -> ClientOut:
    """Disables a machine client: its tokens are refused from the next request and no new token is
    issued. Requires If-Match."""
    client = await machine_clients.set_client_status(db=db, identity=identity, keys=keys,
                                                     client_id=client_id, status="disabled",
                                                     expected=expected)
    response.headers["ETag"] = etag(client.version)
    return client


@admin.post("/clients/{client_id}/enable", operation_id="clients_enable",
            summary="Enable a disabled client (admin; If-Match required)", response_model=ClientOut,
            responses=problem_responses(401, 403, 404, 412, 428, 429))
async def enable_client(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                        keys: KeysDep, expected: IfMatch, response: Response) -> ClientOut:
    """Enables a disabled machine client again. Requires If-Match."""
    client = await machine_clients.set_client_status(db=db, identity=identity, keys=keys,
                                                     client_id=client_id, status="active",
                                                     expected=expected)
    response.headers["ETag"] = etag(client.version)
    return client
