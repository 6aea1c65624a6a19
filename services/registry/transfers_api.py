"""Thin routes of portable records (issue 21): the import at the destination, and what this
deployment publishes so its peers can trust it (its metadata and its bundle keys)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from services.registry.api import CipherDep, ProfileId, on_profile
from services.registry.portability.bundle import MEDIA_TYPE
from services.registry.portability.keys import DeploymentKeys
from services.registry.portability.trust import PeerTrust
from services.registry.presenters import dumps
from services.registry.schemas.transfers import (
    DeploymentOut,
    ImportIn,
    ImportOut,
    PortableRecordIn,
    PortableRecordOut,
)
from services.registry.usecases import transfers
from shared.crypto import Sealer
from shared.deps import DbDep, PeersDep, SettingsDep
from shared.errors import problem_responses
from shared.identity import CurrentIdentity

router = APIRouter(prefix="/v1/transfers", tags=["portable records"])
# the gateway's inbound callback from a peer, once verified (the gateway routes no /internal)
internal_router = APIRouter(prefix="/internal/transfers", include_in_schema=False)
profile_router = APIRouter(prefix="/v1/profiles", tags=["portable records"])
public_router = APIRouter(prefix="/v1/transfers", tags=["portable records"])
# the gateway's inbound callback from a peer, once verified (the gateway routes no /internal)
internal_router = APIRouter(prefix="/internal/transfers", include_in_schema=False)
profile_router = APIRouter(prefix="/v1/profiles", tags=["portable records"])
JWKS_PATH = "/v1/transfers/jwks.json"


async def get_trust(request: Request) -> PeerTrust:
    trust: PeerTrust = request.app.state.peer_trust
    return trust


TrustDep = Annotated[PeerTrust, Depends(get_trust)]


@profile_router.post(
    "/{profile_id}/portable-record", operation_id="profiles_portable_record",
    response_model=PortableRecordOut,
    responses={200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
                     "description": "JSON, or with `Accept: application/jose` the bundle "
                                    "alone as a file the person can carry."},
               **on_profile(401, 403, 404, 409, 410, 422, 503)},
    summary="Prepare the person's portable record for another country's deployment",
    description="For the organisation that registered the person, when their `transfer` "
                "consent names `destination` (409 `transfer-consent-required` otherwise). A "
                "Verifiable Presentation (VC 2.0, `vp+jwt`, ES256) with the minimised "
                "profile (names, birth date, nationality, documents, languages, "
                "occupations; never contact or sensitive data), the credentials the issuer "
                "vouches for (each a `vc+jwt` with its status-list entries) and a route "
                "summary; signed by this deployment, then encrypted to the destination "
                "(JWE). Valid 30 days; ask again for a new one while the consent holds. The "
                "disclosure is audited and `profile.transfer_prepared` emitted.",
)
async def portable_record(profile_id: ProfileId, data: PortableRecordIn,
                          identity: CurrentIdentity, db: DbDep, peers: PeersDep,
                          trust: TrustDep, settings: SettingsDep, request: Request
                          ) -> Response:
    out = await transfers.prepare_portable_record(
        db=db, peers=peers, trust=trust, settings=settings, identity=identity,
        profile_id=profile_id, destination=data.destination)
    if MEDIA_TYPE in request.headers.get("accept", ""):
        return Response(out["bundle"], media_type=MEDIA_TYPE, headers={
            "Cache-Control": "no-store", "Content-Disposition":
            f'attachment; filename="portable-record-{out["bundle_id"]}.jwe"'})
    return Response(dumps(out), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@router.post(
    "/import", operation_id="transfers_import", response_model=ImportOut,
    responses={201: {"model": ImportOut, "description": "Imported now."},
               **problem_responses(401, 403, 409, 422, 503)},
    summary="Import a portable record prepared for this deployment",
    description="Decrypts the bundle with this deployment's key, verifies the origin's "
                "signature against its published keys (`RUTA_PEER_DEPLOYMENTS`), the expiry "
                "and each credential with its status list (revoked, suspended or "
                "`status_unavailable` ones are `flagged`). The person is linked to a profile "
                "already registered here with the same document, else registered. 201 when "
                "imported now; 200 with `replayed: true` for a bundle imported before. 422 "
                "`bundle-refused` with a `reason` (`unknown_peer`, `bad_signature`, "
                "`expired`, `undecryptable`, …) and nothing written.",
)
async def import_bundle(data: ImportIn, identity: CurrentIdentity, db: DbDep, peers: PeersDep,
                        trust: TrustDep, settings: SettingsDep, cipher: CipherDep) -> Response:
    body, created = await transfers.import_bundle(
        db=db, peers=peers, trust=trust, settings=settings, identity=identity, cipher=cipher,
        token=data.bundle, region=data.region)
    return Response(dumps(body), status_code=201 if created else 200,
                    media_type="application/json", headers={"Cache-Control": "no-store"})


@public_router.get("/deployment", operation_id="transfers_deployment_read",
                   response_model=DeploymentOut, summary="This deployment, as its peers see it",
                   openapi_extra={"security": []})
async def deployment(trust: TrustDep, response: Response) -> dict[str, Any]:
    """Who signs this deployment's bundles and where its keys are: what a peer lists in its
    `RUTA_PEER_DEPLOYMENTS`."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return {"id": trust.me, "country": trust.country, "issuer": trust.issuer,
            "jwks_uri": trust.issuer + JWKS_PATH,
            "credential_issuer": trust.issuer + "/v1/credentials/issuer/profile",
            "inbound": trust.issuer + "/v1/inbound/{peer}"}


@public_router.get("/jwks.json", operation_id="transfers_keys_read",
                   summary="This deployment's bundle keys (JWKS)",
                   openapi_extra={"security": []})
async def jwks(db: DbDep, settings: SettingsDep, response: Response) -> dict[str, Any]:
    """`use: sig` (ES256) verifies the bundles it sends; `use: enc` (RSA-OAEP-256) is what
    bundles for it are encrypted to. Retired keys stay listed. Newest first."""
    async with db.uow() as uow:
        keys = DeploymentKeys(uow.session, Sealer.from_settings(settings))
        await keys.ensure()
        out = await keys.jwks()
        await uow.commit()
    response.headers["Cache-Control"] = "public, max-age=300"
    return out


@internal_router.post("/{bundle_id}/arrived")
async def arrived(bundle_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")],
                  identity: CurrentIdentity, db: DbDep, peers: PeersDep) -> dict[str, Any]:
    """The destination imported the record: recorded, the person's open referrals closed."""
    return await transfers.record_arrival(db=db, peers=peers, identity=identity,
                                          bundle_id=bundle_id)
