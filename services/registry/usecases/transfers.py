"""Portable records (issue 21): preparing one for another country's deployment, under the
person's ``transfer`` consent, and importing one prepared for us.

Preparing reads what the person carries (the minimised profile here, the verifiable
credentials the credentials service has vouched for, the route summary of the referrals
service), signs it as a Verifiable Presentation and encrypts it to the destination; the
disclosure is audited and recorded with its legal basis. Importing refuses anything it
cannot verify before writing a single row (422 with the reason), imports a bundle once
(idempotent by bundle id), links the person to an existing profile by the same document
(never a duplicate), checks each credential with the credentials service (which asks the
origin's status lists: revoked, suspended or unreachable are flagged, never trusted).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog
from jose import jwt as jose_jwt
from jose.exceptions import JOSEError
from pydantic import ValidationError
from sqlalchemy import select

from services.registry import documents as docs
from services.registry.clients import EXPORTER
from services.registry.consent_rules import transfer_consent
from services.registry.crypto import SensitiveCipher
from services.registry.errors import (
    BundleRefused,
    DeploymentUnreachable,
    DuplicateDocument,
    RegionOutsideScope,
    TransferConsentRequired,
    TransferNotFound,
    UnknownDeployment,
)
from services.registry.models import Transfer
from services.registry.portability import bundle
from services.registry.portability.keys import SIG, DeploymentKeys
from services.registry.portability.trust import PeerTrust
from services.registry.presenters import document_dict
from services.registry.repository import DuplicateKey, ProfileRepository
from services.registry.schemas.profiles import ProfileCreate
from services.registry.usecases.records import audit_row, profile_event
from services.registry.usecases.registration import emit_created, prepare
from services.registry.usecases.scope import load_access, load_visible, require_role
from services.registry.worklist import Kind, add_worklist_item
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.crypto import Sealer
from shared.db import Database, UnitOfWork
from shared.errors import ServiceUnavailable
from shared.identity import Identity, Role
from shared.models import new_id
from shared.peers import Peers
from shared.settings import Settings

log = structlog.get_logger("ruta.transfers")

# What travels of the profile: who the person is and what they can work as. Never contact
# details, never the sensitive record (violence, health, disability, protection).
PROFILE_FIELDS = ("given_names", "first_surname", "second_surname", "birth_date", "sex",
                  "nationality", "population_type", "languages", "education_level",
                  "education_field", "occupation_current", "occupation_training",
                  "occupation_desired", "years_experience", "skills")
# Who recognises a foreign degree in each country: the route recommends the local one.
RECOGNITION_BODY = {"PE": "SUNEDU", "EC": "SENESCYT"}
COUNTRY_ALPHA3 = {"PE": "PER", "EC": "ECU"}
LEGAL_BASIS = {"PE": "Ley 29733 de Protección de Datos Personales (Perú), art. 13 y 15",
               "EC": "Ley Orgánica de Protección de Datos Personales (Ecuador), art. 7 y 55"}
VOUCHED = ("verified_with_issuer", "recognised")
TRANSFERRED_GROUPS = ["identity", "documents", "languages", "occupation", "credentials",
                      "route"]


def legal_basis(*, consent_id: str, origin: str, destination: str) -> dict[str, Any]:
    return {"basis": "consent", "consent_id": consent_id, "purpose": "transfer",
            "origin_law": LEGAL_BASIS.get(origin), "destination_law": LEGAL_BASIS.get(
                destination)}


# --- preparing ----------------------------------------------------------------------------

async def prepare_portable_record(
    *, db: Database, peers: Peers, trust: PeerTrust, settings: Settings, identity: Identity,
    profile_id: str, destination: str,
) -> dict[str, Any]:
    """The encrypted bundle for ``destination`` (the owning organisation only, under a
    ``transfer`` consent naming that deployment: 409 naming it otherwise)."""
    require_role(identity, CASELOAD_ROLES)
    peer = trust.peer(destination)
    if peer is None:
        raise UnknownDeployment(deployment=destination)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, _ = await load_visible(repo, identity, profile_id, now, owner_only=True)
        consent = transfer_consent(await repo.consents_of(p.id), destination, now)
        if consent is None:
            raise TransferConsentRequired(deployment=destination)
        consent_id = consent.id
        profile = {f: getattr(p, f) for f in PROFILE_FIELDS}
        profile["birth_date"] = p.birth_date.isoformat() if p.birth_date else None
        profile["documents"] = [_travelling_document(d) for d in await repo.documents_of([p.id])]
        profile["country"] = p.country
    credentials = await _vouched_credentials(peers, identity, p.id)
    route = await _route_summary(peers, identity, p.id)
    key = await _destination_key(trust, peer.id)
    bundle_id = new_id()
    basis = legal_basis(consent_id=consent_id, origin=trust.country, destination=peer.country)
    claims = bundle.presentation(
        bundle_id=bundle_id, issuer=trust.issuer, audience=peer.id, issued_at=now,
        profile=profile, credentials=credentials, route=route, origin_profile_id=p.id,
        legal_basis=basis)
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        # the consent may have been withdrawn while we gathered: decide again, in this
        # transaction, before anything leaves
        if transfer_consent(await repo.consents_of(p.id), destination, utcnow()) is None:
            raise TransferConsentRequired(deployment=destination)
        kid, pem = await DeploymentKeys(uow.session, Sealer.from_settings(settings)).active(SIG)
        token = bundle.seal(claims, sig_kid=kid, sig_pem=pem, destination_key=key)
        uow.session.add(Transfer(
            id=new_id(), direction="out", bundle_id=bundle_id, peer_id=peer.id,
            profile_id=p.id, peer_profile_id=None, consent_id=consent_id, legal_basis=basis,
            status="prepared", expires_at=expires_at, at=now, actor_subject=identity.subject,
            actor_organisation_id=identity.organisation_id,
            result={"credentials": len(credentials)}))
        await repo.add_audit([audit_row(identity, p.id, "transfer_out",
                                        TRANSFERRED_GROUPS, now)])
        uow.emit(profile_event("profile.transfer_prepared", p, {
            "bundle_id": bundle_id, "destination": peer.id, "consent_id": consent_id,
            "expires_at": expires_at.isoformat()}))
        await uow.commit()
    log.info("transfer_prepared", bundle_id=bundle_id, destination=peer.id,
             credentials=len(credentials))
    return {"bundle_id": bundle_id, "destination": peer.id, "issued_at": now,
            "expires_at": expires_at, "media_type": bundle.MEDIA_TYPE,
            "credentials": len(credentials), "legal_basis": basis, "bundle": token}


def _travelling_document(d: Any) -> dict[str, Any]:
    out = document_dict(d)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in out.items()
            if k in ("type", "number", "issuing_country", "expiry_date", "verification",
                     "authorises_work", "expired")}


async def _vouched_credentials(peers: Peers, identity: Identity, profile_id: str) -> list[str]:
    """The person's credentials the issuer vouches for, each as a VC-JWT with its status
    entries. One that cannot be exported (no sharing consent, expired) stays behind."""
    page = await peers.get_json("credentials", "/v1/credentials", identity=identity,
                                params={"profile_id": profile_id, "limit": 200})
    items = page.get("items", []) if isinstance(page, dict) else []
    tokens = []
    for item in items:
        if item.get("status") not in VOUCHED:
            continue
        resp = await peers.request("credentials", "GET", f"/v1/credentials/{item['id']}/vc",
                                   identity=identity)
        if resp.status_code == 200:
            tokens.append(resp.text)
        elif resp.status_code >= 500:  # never a bundle silently short of a credential
            raise ServiceUnavailable()
    return tokens


async def _route_summary(peers: Peers, identity: Identity, profile_id: str) -> dict[str, Any]:
    """Programmes completed and the outcomes that matter for work (no notes, no reasons)."""
    page = await peers.get_json("referrals", "/v1/referrals",
                                identity=replace(EXPORTER, request_id=identity.request_id),
                                params={"profile_id": profile_id, "limit": 200})
    items = page.get("items", []) if isinstance(page, dict) else []
    completed = [{"programme_id": r.get("programme_id"), "route_type": r.get("route_type"),
                  "outcome_kind": r.get("outcome_kind"), "outcome": r.get("outcome"),
                  "closed_at": r.get("closed_at")}
                 for r in items if r.get("status") == "completed"]
    return {"completed": completed,
            "open": sum(1 for r in items if r.get("status") in (
                "requested", "accepted", "in_progress", "on_hold"))}


async def _destination_key(trust: PeerTrust, peer_id: str) -> dict[str, Any]:
    peer = trust.peer(peer_id)
    assert peer is not None
    key = await trust.encryption_key(peer)
    if key is None:
        raise DeploymentUnreachable(deployment=peer_id)
    return key


# --- importing ----------------------------------------------------------------------------

async def import_bundle(
    *, db: Database, peers: Peers, trust: PeerTrust, settings: Settings, identity: Identity,
    cipher: SensitiveCipher, token: str, region: str,
) -> tuple[dict[str, Any], bool]:
    """(the import's answer, whether it was created now). Every check runs before the first
    write: a refused bundle leaves nothing behind."""
    require_role(identity, {Role.CASEWORKER, Role.COORDINATOR})
    if identity.regions and region not in identity.regions:
        raise RegionOutsideScope()
    claims, peer_id = await _open(db, trust, settings, token)
    bundle_id = str(claims["jti"])
    async with db.uow() as uow:
        seen = await _imported(uow, bundle_id)
        result = dict(seen.result or {}) if seen is not None else None
    if result is not None:
        if result.get("origin_notified") == "failed":  # a replay tries the origin again
            result["origin_notified"] = await _notify_origin(db, trust, peer_id, result)
        return {**result, "replayed": True}, False
    record = claims["portableRecord"]
    checked = [await _check_credential(peers, identity, t, trust.country)
               for t in bundle.enveloped_credentials(claims)]
    data = _profile_create(record["profile"], region, trust.country)
    now = utcnow()
    async with db.uow() as uow:
        if (seen := await _imported(uow, bundle_id)) is not None:  # a concurrent import won
            return {**(seen.result or {}), "replayed": True}, False
        repo = ProfileRepository(uow.session)
        linked = await _same_person(repo, identity, data, now)
        if linked is None:
            prep = prepare(identity, data, cipher, now)
            try:
                await repo.insert_many([prep.profile], prep.documents, prep.consents)
            except DuplicateKey:
                raise DuplicateDocument() from None
            emit_created(uow, prep)
            profile_id, p = prep.profile["id"], await repo.get(prep.profile["id"])
        else:
            profile_id, p = linked.id, linked
        origin_id = str(record.get("originProfileId", ""))[:64]
        result = {
            "bundle_id": bundle_id, "profile_id": profile_id, "linked": linked is not None,
            "imported_from": {"deployment": peer_id, "profile_id": origin_id},
            "legal_basis": record.get("legalBasis"),
            "credentials": checked,
            "flagged": sum(1 for c in checked if c["flagged"]),
            "route": record.get("route", {}),
            "imported_at": now.isoformat(),
        }
        uow.session.add(Transfer(
            id=new_id(), direction="in", bundle_id=bundle_id, peer_id=peer_id,
            profile_id=profile_id, peer_profile_id=origin_id,
            consent_id=str((record.get("legalBasis") or {}).get("consent_id") or "")[:64]
            or None, legal_basis=record.get("legalBasis") or {"basis": "consent"},
            status="imported", expires_at=datetime.fromtimestamp(claims["exp"], UTC), at=now,
            actor_subject=identity.subject, actor_organisation_id=identity.organisation_id,
            result=result))
        await repo.add_audit([audit_row(identity, profile_id, "transfer_in",
                                        TRANSFERRED_GROUPS, now)])
        uow.emit(profile_event("profile.transferred_in", p, {
            "bundle_id": bundle_id, "origin_deployment": peer_id,
            "origin_profile_id": origin_id, "linked": linked is not None,
            "flagged_credentials": result["flagged"]}))
        await add_transfer_received_item(uow, profile_id=profile_id, bundle_id=bundle_id,
                                         country=trust.country, origin=peer_id, now=now)
        await uow.commit()
    log.info("transfer_imported", bundle_id=bundle_id, origin=peer_id,
             linked=linked is not None, flagged=result["flagged"])
    result["origin_notified"] = await _notify_origin(db, trust, peer_id, result)
    return {**result, "replayed": False}, True


async def _notify_origin(db: Database, trust: PeerTrust, peer_id: str,
                         result: dict[str, Any]) -> str:
    """After the import is committed (a failure here never undoes it): the signed callback
    to the origin, and how it went, kept with the transfer."""
    peer = trust.peer(peer_id)
    outcome = "not_configured" if peer is None else await trust.notify_arrival(
        peer, bundle_id=result["bundle_id"], imported_at=result["imported_at"])
    async with db.uow() as uow:
        row = await _imported(uow, result["bundle_id"])
        if row is not None:
            row.result = {**(row.result or {}), "origin_notified": outcome}
            await uow.commit()
    return outcome


async def add_transfer_received_item(uow: UnitOfWork, *, profile_id: str, bundle_id: str,
                                     country: str, origin: str, now: datetime) -> None:
    """A ``transfer_received`` item on the destination's worklist, in the import's own
    transaction: a caseworker here picks the person up (checks the imported documents, starts
    the local recognition the route recommends). One item per bundle."""
    await add_worklist_item(uow.session, kind=Kind.TRANSFER_RECEIVED, profile_id=profile_id,
                            subject_type="transfer", subject_id=bundle_id,
                            dedupe_key=f"transfer_received:{bundle_id}", country=country,
                            due_date=now.date(), details={"origin_deployment": origin},
                            now=now, reopen=False)


async def _imported(uow: UnitOfWork, bundle_id: str) -> Transfer | None:
    row: Transfer | None = await uow.session.scalar(select(Transfer).where(
        Transfer.direction == "in", Transfer.bundle_id == bundle_id))
    return row


async def _open(db: Database, trust: PeerTrust, settings: Settings, token: str
                ) -> tuple[dict[str, Any], str]:
    """Decrypt with our key, then verify the origin's signature with its published key."""
    try:
        kid = bundle.encryption_kid(token)
        async with db.uow() as uow:
            pem = await DeploymentKeys(uow.session, Sealer.from_settings(settings)
                                       ).decryption_key(kid)
        if pem is None:
            raise bundle.Refused(bundle.Reason.NOT_FOR_US)
        signed = bundle.unverified(bundle.decrypt(token, pem))
        peer = trust.by_issuer(signed.issuer)
        if peer is None:
            raise bundle.Refused(bundle.Reason.UNKNOWN_PEER)
        public = await trust.signing_key(peer, signed.kid)
        if public is None:
            raise bundle.Refused(bundle.Reason.UNKNOWN_KEY)
        return bundle.verify(signed, public, audience=trust.me, now=utcnow()), peer.id
    except bundle.Refused as exc:
        log.info("transfer_refused", reason=exc.reason.value)
        raise BundleRefused(exc.reason.value) from None


async def _check_credential(peers: Peers, identity: Identity, token: str, country: str
                            ) -> dict[str, Any]:
    """The origin's verdict on one credential (its signature, its status list) and the
    recognition it still needs here."""
    resp = await peers.request("credentials", "POST", "/v1/credentials/verify",
                               identity=identity, json={"credential": token})
    verdict = resp.json() if resp.status_code == 200 else {"status": "status_unavailable"}
    status = str(verdict.get("status"))
    try:
        claims = jose_jwt.get_unverified_claims(token)
    except (JOSEError, ValueError, TypeError):
        claims = {}
    subject = claims.get("credentialSubject") or {}
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    local = RECOGNITION_BODY.get(country)
    return {
        "id": claims.get("id"), "name": claims.get("name"),
        "kind": (achievement or {}).get("achievementType") if isinstance(
            achievement, dict) else None,
        "issuer": (claims.get("issuer") or {}).get("id") if isinstance(
            claims.get("issuer"), dict) else claims.get("issuer"),
        "origin_verification": {"status": status, "reason": verdict.get("reason")},
        "flagged": status != "valid",
        # recognised over there is not recognised here: SUNEDU's is not SENESCYT's
        "local_recognition": {"status": "not_recognised", "recommended_body": local},
        "credential": token,
    }


def _profile_create(profile: dict[str, Any], region: str, country: str) -> ProfileCreate:
    """The person as a registration here; documents mapped across the border."""
    here = COUNTRY_ALPHA3.get(country)
    documents = []
    for d in profile.get("documents") or []:
        if not isinstance(d, dict):
            continue
        issued_here = d.get("issuing_country") == here
        documents.append({
            "type": d.get("type"), "number": d.get("number"),
            "issuing_country": d.get("issuing_country"),
            "expiry_date": d.get("expiry_date"),
            # what the origin saw is not what we saw: the person shows it again here
            "verification": docs.Verification.SELF_DECLARED.value,
            # a permit of the other country (a Peruvian CPP in Ecuador) is a foreign
            # document here and never authorises work; identity documents keep theirs
            "authorises_work": d.get("authorises_work") if issued_here else None
            if d.get("type", "").startswith(("ve_", "passport")) else False,
        })
    fields = {f: profile.get(f) for f in PROFILE_FIELDS if profile.get(f) is not None}
    try:
        return ProfileCreate.model_validate({**fields, "region": region,
                                             "documents": documents})
    except ValidationError:
        raise BundleRefused(bundle.Reason.NOT_A_PRESENTATION.value) from None


async def _same_person(repo: ProfileRepository, identity: Identity, data: ProfileCreate,
                       now: datetime) -> Any | None:
    """The profile already registered here with one of the same documents (a link, never a
    duplicate); 409 without data when that profile is outside the caller's scope."""
    keys = [(d.type.value, d.issuing_country or "", d.number) for d in data.documents]
    existing = await repo.find_documents(keys) if keys else {}
    for pid, *_ in existing.values():
        p = await repo.get(pid)
        if p is None:
            continue
        access = await load_access(repo, identity, p, now)
        if access is None or not getattr(access, "owner", False):
            raise DuplicateDocument()
        return p
    return None


# --- the origin hears of the arrival ------------------------------------------------------

MOVED_ABROAD = "La persona se trasladó al extranjero (moved abroad): expediente importado por "


async def record_arrival(*, db: Database, peers: Peers, identity: Identity, bundle_id: str
                         ) -> dict[str, Any]:
    """The destination says the person arrived (its signed inbound callback, verified by our
    gateway, which calls this as ``inbound:<peer id>``): record it with the transfer and
    close the person's open referrals here as moved abroad."""
    source = identity.subject.removeprefix("inbound:")
    if identity.role is not Role.MINISTRY_SYSTEM or source == identity.subject:
        raise TransferNotFound()
    async with db.uow() as uow:
        row = await uow.session.scalar(select(Transfer).where(
            Transfer.direction == "out", Transfer.bundle_id == bundle_id[:64]))
        if row is None or row.peer_id != source:
            raise TransferNotFound()
        if row.status == "arrived":
            return {"status": "arrived", "referrals_closed": (row.result or {}).get(
                "referrals_closed", 0)}
        profile_id = row.profile_id
    closed = await _close_open_referrals(peers, identity, profile_id, bundle_id, source)
    now = utcnow()
    async with db.uow() as uow:
        row = await uow.session.scalar(select(Transfer).where(
            Transfer.direction == "out", Transfer.bundle_id == bundle_id[:64]))
        assert row is not None
        row.status = "arrived"
        row.result = {**(row.result or {}), "arrived_at": now.isoformat(),
                      "referrals_closed": closed}
        await ProfileRepository(uow.session).add_audit([
            audit_row(identity, profile_id, "transfer_arrived", ["referrals"], now)])
        await uow.commit()
    log.info("transfer_arrived", bundle_id=bundle_id, destination=source, closed=closed)
    return {"status": "arrived", "referrals_closed": closed}


async def _close_open_referrals(peers: Peers, identity: Identity, profile_id: str,
                                bundle_id: str, destination: str) -> int:
    system = replace(EXPORTER, request_id=identity.request_id)
    page = await peers.get_json("referrals", "/v1/referrals", identity=system,
                                params={"profile_id": profile_id, "limit": 200})
    items = page.get("items", []) if isinstance(page, dict) else []
    closed = 0
    for r in items:
        if "cancel" not in (r.get("allowed_actions") or []):
            continue
        resp = await peers.request(
            "referrals", "POST", f"/v1/referrals/{r['id']}/transitions", identity=system,
            json={"action": "cancel", "reason": MOVED_ABROAD + destination},
            headers={"If-Match": "*", "Idempotency-Key": f"moved-{bundle_id}-{r['id']}"[:200]})
        if resp.status_code >= 500:
            raise ServiceUnavailable()
        closed += resp.status_code < 300
    return closed
