"""The OAuth2 client credentials grant (RFC 6749 section 4.4): reading the token request
and issuing the token.

Errors here are RFC 6749 section 5.2 JSON, not problem documents: OAuth client libraries
expect that shape. Every answer carries ``Cache-Control: no-store`` (section 5.1).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from fastapi import Request
from starlette.responses import JSONResponse

from gateway.identity.client_secrets import client_secret_matches
from gateway.identity.errors import OAuthError
from gateway.identity.keys import KeyStore
from gateway.identity.models import Client, Organisation
from gateway.identity.repository import IdentityRepository
from gateway.identity.schemas import TokenResponse
from shared.db import Database
from shared.identity import Identity, Role
from shared.settings import Settings

MAX_FORM_BYTES = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def basic_challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Basic realm="ruta"'}


@dataclass(frozen=True, slots=True)
class TokenRequest:
    client_id: str
    client_secret: str
    scope: str | None
    used_basic: bool  # the client authenticated with HTTP Basic: a 401 carries its challenge


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    return JSONResponse({"error": exc.error, "error_description": exc.description},
                        status_code=exc.status_code, headers={**NO_STORE, **exc.headers})


async def read_token_request(request: Request) -> TokenRequest:
    """The form (bounded: size, field count, no repeats) and the client's credentials, from
    the form or from HTTP Basic, never both."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "Use application/x-www-form-urlencoded.")
    fields = _form_fields(await request.body())
    grant_type = fields.get("grant_type")
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type is required.")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only client_credentials is supported.")
    client_id, client_secret, used_basic = fields.get("client_id"), fields.get(
        "client_secret"), False
    auth = request.headers.get("authorization")
    if auth:
        client_id, client_secret = _basic_credentials(auth, form_secret=client_secret)
        used_basic = True
    if not client_id or not client_secret:
        raise OAuthError("invalid_client", "Client authentication is required.", 401,
                         basic_challenge())
    return TokenRequest(client_id, client_secret, fields.get("scope"), used_basic)


def _form_fields(body: bytes) -> dict[str, str]:
    if len(body) > MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "Request too large.")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "Malformed form body.") from None
    if any(len(v) > 1 for v in parsed.values()):
        raise OAuthError("invalid_request", "Repeated parameters are not allowed.")
    return {k: v[0] for k, v in parsed.items()}


def _basic_credentials(authorization: str, *, form_secret: str | None) -> tuple[str, str]:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "Unsupported client authentication.", 401)
    try:
        basic_id, _, basic_secret = base64.b64decode(value, validate=True).decode(
        ).partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Malformed Basic credentials.", 401,
                         basic_challenge()) from None
    if form_secret is not None:
        raise OAuthError("invalid_request", "Use one client authentication method.")
    return unquote(basic_id), unquote(basic_secret)


async def issue_token(*, db: Database, keys: KeyStore, settings: Settings,
                      request: TokenRequest) -> TokenResponse:
    invalid_client = OAuthError("invalid_client", "Client authentication failed.", 401,
                                headers=basic_challenge() if request.used_basic else None)
    async with db.uow() as uow:
        repo = IdentityRepository(uow.session)
        client = await repo.client(request.client_id) if len(request.client_id) <= 64 \
            else None
        matches = await client_secret_matches(client, request.client_secret)  # even if None
        if client is None or not matches or client.status != "active":
            raise invalid_client
        org = await repo.organisation(client.organisation_id) if client.organisation_id \
            else None
        if client.organisation_id is not None and (org is None or org.status != "active"):
            raise OAuthError("unauthorized_client", "The client's organisation is not active.")
    scopes = _granted_scopes(client, request.scope)
    identity = Identity(subject=client.id, role=Role(client.role),
                        organisation_id=client.organisation_id,
                        regions=frozenset(_token_regions(client, org)),
                        kind="client", scopes=frozenset(scopes))
    token = keys.mint(identity, scopes=sorted(scopes))
    return TokenResponse(access_token=token, expires_in=settings.access_token_ttl_seconds,
                         scope=" ".join(sorted(scopes)))


def _token_regions(client: Client, org: Organisation | None) -> list[str]:
    """The client's own regions; none named means all of its organisation's."""
    return client.regions or (org.regions if org else [])


def _granted_scopes(client: Client, requested: str | None) -> set[str]:
    """All the client's scopes, or the subset it asked for (never more)."""
    scopes = set(client.scopes)
    if requested:
        asked = set(requested.split())
        if not asked <= scopes:
            raise OAuthError("invalid_scope", "The requested scope exceeds the client's.")
        scopes = asked
    return scopes
