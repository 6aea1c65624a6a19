"""The gateway's own routes: OAuth token endpoint, JWKS, organisations and clients."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from starlette.responses import JSONResponse

from gateway import service
from gateway.frontdoor import identity_of
from gateway.schemas import (
    ClientCreate,
    ClientOut,
    ClientWithSecret,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    TokenResponse,
)
from gateway.tokens import KeyStore
from shared.concurrency import IfMatch, etag
from shared.deps import CursorsDep, DbDep, IdempotencyHeader, SettingsDep, idempotency_for
from shared.errors import Unauthenticated, problem_responses
from shared.http import respond
from shared.idempotency import IdempotencyKey
from shared.identity import Identity
from shared.pagination import Cursor, Limit, Page


async def gateway_identity(request: Request) -> Identity:
    identity = identity_of(request.scope)
    if identity is None:
        raise Unauthenticated()
    return identity


async def key_store(request: Request) -> KeyStore:
    return request.app.state.keys


GatewayIdentity = Annotated[Identity, Depends(gateway_identity)]
KeysDep = Annotated[KeyStore, Depends(key_store)]


async def gateway_idempotency(request: Request, identity: GatewayIdentity,
                              key: IdempotencyHeader = None) -> IdempotencyKey | None:
    return await idempotency_for(request, identity.subject, key)


Idempotency = Annotated[IdempotencyKey | None, Depends(gateway_idempotency)]


oauth = APIRouter(tags=["auth"])
admin = APIRouter(prefix="/v1", tags=["administration"])  # and /v1/me, for everyone

OrgId = Annotated[str, Path(max_length=64)]
ClientId = Annotated[str, Path(max_length=64)]


# RFC 6749 section 5.2: OAuth client libraries expect this shape, not a problem document.
OAUTH_ERROR = {"application/json": {"schema": {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string", "enum": [
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
        "unsupported_grant_type", "invalid_scope"]},
        "error_description": {"type": "string"}, "error_uri": {"type": "string"}}}}}


@oauth.post(
    "/oauth/token", response_model=TokenResponse, summary="OAuth2 client credentials token",
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
    def error(code: str, description: str, status: int = 400,
              headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": code, "error_description": description},
                            status_code=status,
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache",
                                     **(headers or {})})

    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return error("invalid_request", "Use application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > 4096:
        return error("invalid_request", "Request too large.")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return error("invalid_request", "Malformed form body.")
    if any(len(v) > 1 for v in parsed.values()):
        return error("invalid_request", "Repeated parameters are not allowed.")
    fields = {k: v[0] for k, v in parsed.items()}
    grant_type = fields.get("grant_type")
    if grant_type is None:
        return error("invalid_request", "grant_type is required.")
    if grant_type != "client_credentials":
        return error("unsupported_grant_type", "Only client_credentials is supported.")
    client_id, client_secret, used_basic = fields.get("client_id"), fields.get(
        "client_secret"), False
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic":
            return error("invalid_client", "Unsupported client authentication.", 401)
        try:
            basic_id, _, basic_secret = base64.b64decode(value, validate=True).decode(
            ).partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return error("invalid_client", "Malformed Basic credentials.", 401,
                         {"WWW-Authenticate": 'Basic realm="ruta"'})
        if client_secret is not None:
            return error("invalid_request", "Use one client authentication method.")
        client_id, client_secret, used_basic = unquote(basic_id), unquote(basic_secret), True
    if not client_id or not client_secret:
        return error("invalid_client", "Client authentication is required.", 401,
                     {"WWW-Authenticate": 'Basic realm="ruta"'})
    try:
        issued = await service.issue_token(db=db, keys=keys, settings=settings,
                                           client_id=client_id, client_secret=client_secret,
                                           requested_scope=fields.get("scope"),
                                           used_basic=used_basic)
    except service.OAuthError as exc:
        return error(exc.error, exc.description, exc.status_code, exc.headers)
    return JSONResponse(issued.model_dump(), headers={"Cache-Control": "no-store",
                                                      "Pragma": "no-cache"})


@oauth.get("/.well-known/jwks.json", summary="Public keys of the access tokens")
async def jwks(keys: KeysDep) -> JSONResponse:
    await keys.maybe_refresh()
    return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


class Me(BaseModel):
    subject: str
    kind: str
    role: str
    organisation_id: str | None
    regions: list[str]
    permissions: list[str]
    scopes: list[str] | None


@admin.get("/me", response_model=Me, responses=problem_responses(401, 429),
           summary="Who the gateway takes the caller to be (role, organisation, regions)")
async def me(identity: GatewayIdentity) -> Me:
    return Me(subject=identity.subject, kind=identity.kind, role=identity.role.value,
              organisation_id=identity.organisation_id, regions=sorted(identity.regions),
              permissions=sorted(identity.permissions),
              scopes=sorted(identity.scopes) if identity.scopes is not None else None)


# --- organisations ----------------------------------------------------------------------

@admin.post("/organisations", status_code=201, response_model=OrganisationOut,
            responses=problem_responses(401, 403, 409, 422, 429),
            summary="Register an organisation (admin)")
async def create_organisation(data: OrganisationCreate, identity: GatewayIdentity,
                              db: DbDep, idempotency: Idempotency) -> Response:
    return respond(await service.create_organisation(db=db, identity=identity, data=data,
                                                     idempotency=idempotency))


@admin.get("/organisations", response_model=Page[OrganisationOut],
           responses=problem_responses(400, 401, 403, 422, 429))
async def list_organisations(identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                             limit: Limit = 50, cursor: Cursor = None) -> Page[OrganisationOut]:
    return await service.list_organisations(db=db, identity=identity, cursors=cursors,
                                            limit=limit, cursor=cursor)


@admin.get("/organisations/{organisation_id}", response_model=OrganisationOut,
           responses=problem_responses(401, 403, 404, 429))
async def get_organisation(organisation_id: OrgId, identity: GatewayIdentity, db: DbDep,
                           response: Response) -> OrganisationOut:
    org = await service.get_organisation(db=db, identity=identity,
                                         organisation_id=organisation_id)
    response.headers["ETag"] = etag(org.version)
    return org


@admin.patch("/organisations/{organisation_id}", response_model=OrganisationOut,
             responses=problem_responses(401, 403, 404, 412, 422, 428, 429))
async def update_organisation(organisation_id: OrgId, data: OrganisationUpdate,
                              identity: GatewayIdentity, db: DbDep, expected: IfMatch,
                              response: Response) -> OrganisationOut:
    org = await service.update_organisation(db=db, identity=identity,
                                            organisation_id=organisation_id, data=data,
                                            expected=expected)
    response.headers["ETag"] = etag(org.version)
    return org


# --- clients ------------------------------------------------------------------------------

@admin.post("/clients", status_code=201, response_model=ClientWithSecret,
            responses=problem_responses(401, 403, 422, 429),
            summary="Register a machine client (admin); the secret is shown once")
async def create_client(data: ClientCreate, identity: GatewayIdentity, db: DbDep,
                        response: Response) -> ClientWithSecret:
    client = await service.create_client(db=db, identity=identity, data=data)
    response.headers["ETag"] = etag(client.version)
    response.headers["Location"] = f"/v1/clients/{client.client_id}"
    response.headers["Cache-Control"] = "no-store"
    return client


@admin.get("/clients", response_model=Page[ClientOut],
           responses=problem_responses(400, 401, 403, 422, 429))
async def list_clients(identity: GatewayIdentity, db: DbDep, cursors: CursorsDep,
                       organisation_id: str | None = None, limit: Limit = 50,
                       cursor: Cursor = None) -> Page[ClientOut]:
    return await service.list_clients(db=db, identity=identity, cursors=cursors,
                                      organisation_id=organisation_id, limit=limit,
                                      cursor=cursor)


@admin.get("/clients/{client_id}", response_model=ClientOut,
           responses=problem_responses(401, 403, 404, 429))
async def get_client(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                     response: Response) -> ClientOut:
    client = await service.get_client(db=db, identity=identity, client_id=client_id)
    response.headers["ETag"] = etag(client.version)
    return client


@admin.post("/clients/{client_id}/rotate-secret", response_model=ClientWithSecret,
            responses=problem_responses(401, 403, 404, 412, 428, 429),
            summary="New secret; the previous one keeps working during the overlap period")
async def rotate_secret(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                        settings: SettingsDep, expected: IfMatch, response: Response
                        ) -> ClientWithSecret:
    client = await service.rotate_client_secret(db=db, identity=identity, settings=settings,
                                                client_id=client_id, expected=expected)
    response.headers["ETag"] = etag(client.version)
    response.headers["Cache-Control"] = "no-store"
    return client


@admin.post("/clients/{client_id}/disable", response_model=ClientOut,
            responses=problem_responses(401, 403, 404, 412, 428, 429),
            summary="Disable a client: its tokens stop working at once")
async def disable_client(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                         keys: KeysDep, expected: IfMatch, response: Response) -> ClientOut:
    client = await service.set_client_status(db=db, identity=identity, keys=keys,
                                             client_id=client_id, status="disabled",
                                             expected=expected)
    response.headers["ETag"] = etag(client.version)
    return client


@admin.post("/clients/{client_id}/enable", response_model=ClientOut,
            responses=problem_responses(401, 403, 404, 412, 428, 429))
async def enable_client(client_id: ClientId, identity: GatewayIdentity, db: DbDep,
                        keys: KeysDep, expected: IfMatch, response: Response) -> ClientOut:
    client = await service.set_client_status(db=db, identity=identity, keys=keys,
                                             client_id=client_id, status="active",
                                             expected=expected)
    response.headers["ETag"] = etag(client.version)
    return client
