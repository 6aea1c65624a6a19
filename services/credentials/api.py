"""HTTP routes of the credentials service (thin: parse, call the use case, shape the reply).

Three routers: ``router`` (bearer token through the gateway), ``public_router`` (the
issuer's documents and the verification endpoint, which the gateway forwards without a
token: nothing here may depend on a caller identity) and ``internal_router`` (reachable only
with a system or ministry assertion, never routed by the gateway's public table).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response

from services.credentials.lifecycle import Status
from services.credentials.responses import CredentialOut, HistoryOut, JwksOut, VerifyOut
from services.credentials.schemas import CredentialCreate, CredentialKind, TransitionIn, VerifyIn
from services.credentials.status_list import Purpose
from services.credentials.subject import SALT_HEADER, SubjectDisclosure
from services.credentials.usecases import credentials, issuance, transitions, verification
from services.credentials.vc import MEDIA_TYPE
from shared.concurrency import IF_MATCH_DOC, ExpectedVersion, IfMatch, etag
from shared.deps import CursorsDep, DbDep, Idempotency, PeersDep, SettingsDep
from shared.errors import problem_responses
from shared.http import respond
from shared.identity import CurrentIdentity
from shared.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])
public_router = APIRouter(prefix="/v1/credentials", tags=["credential verification (public)"])
internal_router = APIRouter(prefix="/internal/credentials", include_in_schema=False)

CredentialId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$",
                                   description="Credential id (UUID)")]
ListId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="Status list id")]

VC_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The verifiable credential, a compact JWS (VC-JOSE-COSE).",
          "headers": {SALT_HEADER: {
              "description": "The salt of the holder's identity hash (32 hex characters, new "
                             "for every export): for the holder, who shows it to a verifier "
                             "with the VC. Absent with `subject=name`.",
              "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}},
          "content": {MEDIA_TYPE: {"schema": {"type": "string"},
                                   "example": "eyJhbGciOiJFUzI1NiIsImN0eSI6InZjIiwia2lkIjoi…"}}},
}


# --- authenticated ------------------------------------------------------------------------

@router.post("", operation_id="credentials_create", status_code=201, response_model=CredentialOut,
             responses=problem_responses(401, 403, 409, 422, 503),
             summary="Add a credential to a person (self-declared)")
async def create_credential(
    data: CredentialCreate, identity: CurrentIdentity, db: DbDep, peers: PeersDep,
    idempotency: Idempotency,
) -> Response:
    """The person must be visible to the caller in the registry (else 422 on `profile_id`).
    The credential is filed under the profile's organisation and region."""
    return respond(await credentials.create_credential(
        db=db, peers=peers, identity=identity, data=data, idempotency=idempotency))


@router.get("", operation_id="credentials_list", response_model=Page[CredentialOut],
            responses=problem_responses(400, 401, 403, 422, 503),
            summary="List credentials (a person's, by kind and state)")
async def list_credentials(
    identity: CurrentIdentity, db: DbDep, peers: PeersDep, cursors: CursorsDep,
    profile_id: Annotated[str | None, Query(max_length=36, pattern=r"^[A-Za-z0-9-]+$")] = None,
    kind: CredentialKind | None = None,
    status: Status | None = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[CredentialOut]:
    """Without `profile_id`: your organisation's credentials in your regions. With it: that
    person's credentials if you may see the person (an empty page otherwise)."""
    return await credentials.list_credentials(
        db=db, peers=peers, identity=identity, cursors=cursors, profile_id=profile_id,
        kind=kind.value if kind else None, status=status.value if status else None,
        limit=limit, cursor=cursor)


@router.get("/{credential_id}", operation_id="credentials_read", response_model=CredentialOut,
            responses=problem_responses(401, 403, 404, 503), summary="Read a credential")
async def get_credential(
    credential_id: CredentialId, identity: CurrentIdentity, db: DbDep, peers: PeersDep,
    response: Response,
) -> CredentialOut:
    """Reads a credential with its verification state; its `ETag` is the version for If-Match."""
    credential = await credentials.get_credential(db=db, peers=peers, identity=identity,
                                                  credential_id=credential_id)
    response.headers["ETag"] = etag(credential.version)
    return credential


@router.get("/{credential_id}/history", operation_id="credentials_history",
            response_model=HistoryOut,
            responses=problem_responses(401, 403, 404, 503),
            summary="Verification history: every transition with who, when and why")
async def credential_history(
    credential_id: CredentialId, identity: CurrentIdentity, db: DbDep, peers: PeersDep,
) -> HistoryOut:
    """Lists every verification transition of the credential: who, when, which action and why."""
    return await credentials.credential_history(db=db, peers=peers, identity=identity,
                                                credential_id=credential_id)


@router.post("/{credential_id}/transitions", operation_id="credentials_transition",
             response_model=CredentialOut,
             responses=problem_responses(401, 403, 404, 409, 412, 422, 428, 503),
             summary="Change the verification state (If-Match required; Idempotency-Key "
                     "accepted)")
async def transition_credential(
    credential_id: CredentialId, data: TransitionIn, identity: CurrentIdentity, db: DbDep,
    peers: PeersDep, expected: IfMatch, idempotency: Idempotency,
) -> Response:
    """Actions: `see_document`, `apostille`, `verify_with_issuer`, `recognise` (with
    `recognition`: body, resolution number and date), `reject`, `suspend`, `reinstate`,
    `revoke` (the last four need a `reason`). An action the current state does not allow is
    409 with the allowed ones; a stale If-Match is 412.

    `recognise` records the recognising organisation: `recognition.body` is its authority
    code (`SUNEDU` → organisation `sunedu`), which the route catalogue must list as a
    degree-recognition provider (else 422 on `recognition.body`). Suspending or revoking a
    recognition (recognised, or suspended from recognised) is allowed only to that
    organisation's provider or ministry clients and to admins: anyone else, the caseload
    included, gets 403 `recognition-authority-required`. Providers, ministries and admins
    may do nothing else here."""
    return respond(await transitions.transition_credential(
        db=db, peers=peers, identity=identity, credential_id=credential_id, data=data,
        expected=expected, idempotency=idempotency))


@router.get("/{credential_id}/vc", operation_id="credentials_export_vc", response_class=Response,
            responses={**VC_RESPONSE, **problem_responses(401, 403, 404, 409, 422, 503)},
            summary="Export as a W3C verifiable credential (application/vc+jwt)")
async def export_vc(
    credential_id: CredentialId, identity: CurrentIdentity, db: DbDep, peers: PeersDep,
    settings: SettingsDep,
    subject: Annotated[SubjectDisclosure, Query(description=(
        "How the VC names its holder. `hash` (default): no clear name, an Open Badges "
        "IdentityObject (`identityType: ext:nameAndBirthDate`, `hashed: true`) whose "
        "`identityHash` is `sha256$` + lowercase hex SHA-256 of UTF-8 (NAME + `|` + "
        "BIRTH_DATE + salt): NAME the registered full name without accents, upper-cased, "
        "single-spaced; BIRTH_DATE `YYYY-MM-DD` (empty when unknown); the salt, new for "
        "every export, is returned in the `Ruta-Subject-Salt` header, never inside the "
        "signed VC. `name`: the clear name, only when the person asks for it."))
    ] = SubjectDisclosure.HASH,
) -> Response:
    """A VC Data Model 2.0 credential in the Open Badges 3.0 shape, secured with JOSE (ES256,
    `typ: vc+jwt`, the credential as the claims set), with Bitstring Status List entries for
    revocation and suspension. Only for a credential verified with its issuer or recognised
    (else 409 `credential-not-verified`), and only with the person's consent to share
    credentials (else 409 `consent-required`). The holder is named by a salted hash unless
    the person asks for their name (`subject`). Each export is recorded."""
    exported = await issuance.export_vc(db=db, peers=peers, settings=settings,
                                        identity=identity, credential_id=credential_id,
                                        disclosure=subject)
    headers = {"Cache-Control": "no-store"}
    if exported.salt is not None:
        headers[SALT_HEADER] = exported.salt
    return Response(exported.token, media_type=MEDIA_TYPE, headers=headers)


# --- public -------------------------------------------------------------------------------

@public_router.post("/verify", operation_id="credentials_verify",
                    response_model=VerifyOut, responses=problem_responses(422),
                    summary="Verify a credential (public, no token)", openapi_extra={
                        "security": []})
async def verify(data: VerifyIn, db: DbDep, request: Request) -> VerifyOut:
    """Checks the signature against the issuer's keys (current and rotated), the VC 2.0 data
    model, the validity period and the status lists. Always 200 for a well-formed body:
    `valid`, `invalid` (with the reason), `revoked` or `suspended`. A credential issued by a
    trusted peer deployment (`RUTA_PEER_DEPLOYMENTS`) is checked with that peer's keys and
    status lists, and is `status_unavailable` when its status list cannot be reached."""
    return await verification.verify_vc(db=db, token=data.credential,
                                        peer_issuers=request.app.state.peer_issuers)


@public_router.get("/issuer/jwks.json", operation_id="issuer_keys_read", response_model=JwksOut,
                   summary="The issuer's public keys (JWKS)", openapi_extra={"security": []})
async def jwks(db: DbDep, response: Response) -> dict[str, list[dict[str, Any]]]:
    """The issuer's public keys (JWKS) that verify exported credentials and status lists;
    cacheable for five minutes."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await issuance.issuer_jwks(db=db)


@public_router.get("/issuer/profile", operation_id="issuer_profile_read",
                   summary="The issuer (Open Badges Profile)",
                   openapi_extra={"security": []})
async def issuer(db: DbDep, settings: SettingsDep, response: Response) -> dict[str, Any]:
    """The issuer's Open Badges profile (name, URL, keys); cacheable for five minutes."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await issuance.issuer_profile(db=db, settings=settings)


@public_router.get(
    "/issuer/status/{list_id}/{purpose}", operation_id="status_lists_read", response_class=Response,
    responses={200: {"description": "BitstringStatusListCredential, signed as vc+jwt (or "
                                    "unsecured JSON with `Accept: application/vc`).",
                     "content": {MEDIA_TYPE: {"schema": {"type": "string"}},
                                 "application/vc": {"schema": {"type": "object"}}}},
               **problem_responses(404, 422)},
    summary="A status list (W3C Bitstring Status List)", openapi_extra={"security": []})
async def status_list(
    list_id: ListId, purpose: Purpose, db: DbDep, settings: SettingsDep,
    accept: Annotated[str | None, Header(max_length=512)] = None,
) -> Response:
    """A W3C Bitstring Status List credential (revocation or suspension), signed as vc+jwt, or
    unsecured JSON with `Accept: application/vc`; cacheable for one minute."""
    unsecured = accept is not None and "application/vc" in accept \
        and MEDIA_TYPE not in accept
    body = await issuance.status_list(db=db, settings=settings, list_id=list_id,
                                      purpose=purpose, signed=not unsecured)
    headers = {"Cache-Control": "public, max-age=60"}
    if isinstance(body, dict):
        return Response(orjson.dumps(body), media_type="application/vc", headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)


# --- internal -----------------------------------------------------------------------------

@internal_router.post("/{credential_id}/transitions", response_model=CredentialOut)
async def authority_transition(
    credential_id: CredentialId, data: TransitionIn, identity: CurrentIdentity, db: DbDep,
    peers: PeersDep, idempotency: Idempotency,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=512,
                                           description=IF_MATCH_DOC)] = None,
) -> Response:
    """A decision of an authority (e.g. SUNEDU through a signed inbound callback, which the
    gateway forwards with ``If-Match: *`` and the callback's webhook-id as Idempotency-Key),
    with a system or ministry identity asserted by the gateway. If-Match is optional here."""
    expected = ExpectedVersion.parse(if_match) if if_match else None
    return respond(await transitions.transition_credential(
        db=db, peers=peers, identity=identity, credential_id=credential_id, data=data,
        expected=expected, authority=True, idempotency=idempotency))


ProfileIdQuery = Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{1,36}$")]


@internal_router.get("/facts")
async def credential_facts(profile_id: ProfileIdQuery, identity: CurrentIdentity, db: DbDep
                           ) -> dict[str, Any]:
    """A person's credentials as job matching reads them (the referrals service's candidates
    projection, issue 20): kind, state, ISCED field, ISCO occupation, issuing country and
    expiry — never the issuer's name, numbers or the holder's data. System identity only."""
    return {"items": await credentials.facts_of_profile(db=db, identity=identity,
                                                        profile_id=profile_id)}
