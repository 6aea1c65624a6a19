"""Credentials use cases. Each opens its own unit of work and commits once.

Who may do what (the gateway's route policy comes first; this is the object-level rule):

- caseworker, coordinator, ngo_partner: add credentials to a person they may see, read them,
  move their verification state, export them as verifiable credentials. "May see" is the
  organisation and region the credential was filed under (copied from the profile), or else
  whatever the registry answers for the person (consent-based sharing is the registry's call).
- provider: reads only what the registry lets it see of the person; no writes.
- ministry_system / system: authority actions only (verify_with_issuer, recognise, reject,
  suspend, reinstate, revoke), through :func:`transition_credential` with
  ``authority=True`` — the entry point of inbound ministry callbacks (e.g. a SUNEDU
  decision), which the gateway authenticates by signature. Never through the public route.
- admin: no access to credential data (403).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import structlog

from services.credentials import vc
from services.credentials.clients import SHARING_PURPOSE, ProfileRef, Registry
from services.credentials.keys import IssuerKeys
from services.credentials.lifecycle import (
    ACTION_RULES,
    VOUCHED,
    Action,
    Status,
    next_status,
)
from services.credentials.models import Credential, CredentialTransition, VcIssuance
from services.credentials.repository import FLAGGED, CredentialRepository, StatusRepository
from services.credentials.schemas import (
    CredentialCreate,
    CredentialKind,
    CredentialOut,
    HistoryOut,
    TransitionIn,
    TransitionOut,
    VerificationStatus,
    VerifyOut,
)
from services.credentials.status_list import Purpose, encode, status_list_credential, xml_datetime
from shared.authz import CASELOAD_ROLES, in_scope
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.crypto import Sealer
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.i18n import Text
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Role
from shared.outbox import Event, EventEnvelope
from shared.pagination import CursorCodec, Page
from shared.peers import Peers
from shared.settings import Settings

log = structlog.get_logger("ruta.credentials")

AUTHORITY_ROLES = {Role.SYSTEM, Role.MINISTRY_SYSTEM}
RECOGNISABLE_KINDS = {CredentialKind.ACADEMIC_DEGREE, CredentialKind.PROFESSIONAL_LICENCE}


# --- problems -----------------------------------------------------------------------------

class CredentialNotFound(NotFound):
    code = "credential-not-found"
    detail_text = Text("La credencial no existe o no está a su alcance.",
                       "The credential does not exist or is outside your scope.")


class ProfileNotFound(ValidationFailed):
    code = "profile-not-found"
    detail_text = Text("El perfil no existe o no está a su alcance.",
                       "The profile does not exist or is outside your scope.")

    def __init__(self) -> None:
        super().__init__([("profile_id", Text("Perfil no encontrado", "Profile not found"))])


class CredentialNotVouched(Conflict):
    code = "credential-not-verified"
    detail_text = Text(
        "Solo se exporta una credencial verificada con el emisor o reconocida; "
        "su estado es «{status}».",
        "Only a credential verified with its issuer or recognised can be exported; "
        "its state is '{status}'.")


class CredentialExpired(Conflict):
    code = "credential-expired"
    detail_text = Text("La credencial venció el {expires_on}; no se puede exportar.",
                       "The credential expired on {expires_on}; it cannot be exported.")


class ConsentRequired(Conflict):
    code = "consent-required"
    detail_text = Text(
        "La persona no ha dado su consentimiento para compartir sus credenciales "
        "(finalidad «credential_sharing»).",
        "The person has not consented to sharing their credentials "
        "(purpose 'credential_sharing').")

    def __init__(self) -> None:
        super().__init__(extra={"missing_consent": SHARING_PURPOSE})


class RecognitionNotApplicable(Conflict):
    code = "recognition-not-applicable"
    detail_text = Text("El reconocimiento solo se aplica a títulos académicos y licencias "
                       "profesionales.",
                       "Recognition applies only to academic degrees and professional "
                       "licences.")


class ActionNotForRole(Forbidden):
    code = "action-not-allowed-for-role"
    detail_text = Text("Su rol no permite la acción «{action}».",
                       "Your role does not allow the action '{action}'.")


class StatusListNotFound(NotFound):
    code = "status-list-not-found"
    detail_text = Text("La lista de estado no existe.", "The status list does not exist.")


# --- helpers ------------------------------------------------------------------------------

def _location(credential_id: str) -> str:
    return f"/v1/credentials/{credential_id}"


def _require_caseload(identity: Identity) -> None:
    if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
        raise Forbidden()


def _require_reader(identity: Identity) -> None:
    if identity.role in (Role.ADMIN, Role.SYSTEM):
        raise Forbidden()


def _filed_in_scope(identity: Identity, credential: Credential) -> bool:
    return identity.role in CASELOAD_ROLES and in_scope(
        identity, organisation_id=credential.organisation_id, region=credential.region)


async def _ensure_visible(identity: Identity, credential: Credential, registry: Registry
                          ) -> ProfileRef | None:
    """404 unless the caller may see this credential's person. Returns the profile when the
    registry had to be asked (so a caller that needs it does not ask twice)."""
    if _filed_in_scope(identity, credential):
        return None
    profile = await registry.profile(identity, credential.profile_id)
    if profile is None:
        raise CredentialNotFound()
    return profile


def _event(type_: str, c: Credential, data: dict[str, Any] | None = None) -> Event:
    """Thin events: ids and states, never the credential's content."""
    return Event(type=type_, subject_type="credential", subject_id=c.id,
                 subject_version=c.version, organisation_id=c.organisation_id,
                 regions=[c.region] if c.region else [],
                 data={"profile_id": c.profile_id, **(data or {})})


def _transition_row(c: Credential, *, action: str, from_status: str | None, to_status: str,
                    identity: Identity, reason: str | None, details: dict[str, Any],
                    now: datetime) -> CredentialTransition:
    return CredentialTransition(
        credential_id=c.id, action=action, from_status=from_status, to_status=to_status,
        reason=reason, details=details, actor=identity.subject, actor_role=identity.role.value,
        actor_organisation_id=identity.organisation_id, occurred_at=now)


# --- create / read ------------------------------------------------------------------------

async def create_credential(
    *, db: Database, peers: Peers, identity: Identity, data: CredentialCreate,
    idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    _require_caseload(identity)
    # Asked before the transaction opens: no write lock is held while the registry answers.
    profile = await Registry(peers).profile(identity, data.profile_id)
    if profile is None:
        raise ProfileNotFound()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        now = utcnow()
        issuer, skills, training = data.issuer, data.skills_certification, data.training
        credential = Credential(
            id=str(uuid.uuid4()), profile_id=profile.id,
            organisation_id=profile.organisation_id, region=profile.region,
            kind=data.kind.value, title=data.title, status=Status.SELF_DECLARED.value,
            created_by=identity.subject, field_isced=data.field_isced,
            occupation_isco=data.occupation_isco, level=data.level, language=data.language,
            issuer_name=issuer.name if issuer else None,
            issuer_country=issuer.country if issuer else None,
            issuer_identifier=issuer.identifier if issuer else None,
            issued_on=data.issued_on, expires_on=data.expires_on,
            evidence=[e.model_dump(mode="json") for e in data.evidence],
            competency_standard_code=skills.competency_standard_code if skills else None,
            competency_standard_name=skills.competency_standard_name if skills else None,
            certifying_body=skills.certifying_body if skills else None,
            assessment_date=skills.assessment_date if skills else None,
            training_module=training.module.value if training else None,
            training_hours=training.hours if training else None,
            status_changed_at=now,
        )
        repo = CredentialRepository(uow.session)
        repo.add(credential)
        await uow.session.flush()
        repo.add_transition(_transition_row(
            credential, action="declare", from_status=None, to_status=credential.status,
            identity=identity, reason=None, details={}, now=now))
        uow.emit(_event("credential.created", credential))
        out = CredentialOut.of(credential)
        stored = await uow.remember(
            idempotency, status_code=201, body=out.model_dump(mode="json"),
            headers={"ETag": etag(credential.version), "Location": _location(credential.id)})
        await uow.commit()
        return stored


async def get_credential(*, db: Database, peers: Peers, identity: Identity,
                         credential_id: str) -> CredentialOut:
    _require_reader(identity)
    async with db.uow() as uow:
        credential = await CredentialRepository(uow.session).get(credential_id)
        if credential is None:
            raise CredentialNotFound()
        out = CredentialOut.of(credential)
    await _ensure_visible(identity, credential, Registry(peers))
    return out


async def credential_history(*, db: Database, peers: Peers, identity: Identity,
                             credential_id: str) -> HistoryOut:
    _require_reader(identity)
    async with db.uow() as uow:
        repo = CredentialRepository(uow.session)
        credential = await repo.get(credential_id)
        if credential is None:
            raise CredentialNotFound()
        items = [TransitionOut.model_validate(t) for t in await repo.history(credential_id)]
    await _ensure_visible(identity, credential, Registry(peers))
    return HistoryOut(credential_id=credential_id, items=items)


async def list_credentials(
    *, db: Database, peers: Peers, identity: Identity, cursors: CursorCodec,
    profile_id: str | None, kind: str | None, status: str | None, limit: int,
    cursor: str | None,
) -> Page[CredentialOut]:
    """A person's credentials by kind and state (what recommendations ask), or the caller's
    organisation's caseload. Out of scope is an empty page, never a 404 that would confirm
    the person exists."""
    _require_reader(identity)
    filters = {"profile_id": profile_id, "kind": kind, "status": status}
    after = cursors.decode(cursor, "credentials", filters)[0] if cursor else None
    empty: Page[CredentialOut] = Page(items=[], next_cursor=None)
    organisation_id: str | None = None
    regions: frozenset[str] = frozenset()
    if profile_id is not None:
        async with db.uow() as uow:
            owner = await CredentialRepository(uow.session).owner_of_profile(profile_id)
        if owner is None:
            return empty
        filed = identity.role in CASELOAD_ROLES and in_scope(
            identity, organisation_id=owner[0], region=owner[1])
        if not filed and await Registry(peers).profile(identity, profile_id) is None:
            return empty
    else:
        if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
            return empty
        organisation_id, regions = identity.organisation_id, identity.regions
    async with db.uow() as uow:
        rows = await CredentialRepository(uow.session).list(
            profile_id=profile_id, organisation_id=organisation_id, regions=regions, kind=kind,
            status=status, after=after, limit=limit + 1)
        items = [CredentialOut.of(c) for c in rows[:limit]]
    nxt = cursors.encode("credentials", filters, [items[-1].id]) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


# --- lifecycle ----------------------------------------------------------------------------

async def transition_credential(
    *, db: Database, peers: Peers, identity: Identity, credential_id: str, data: TransitionIn,
    expected: ExpectedVersion | None, authority: bool = False,
    idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    """Move a credential along its verification lifecycle, recording who, when and why.

    ``authority=False`` (the public route): the caseload of the credential, If-Match required.
    ``authority=True`` (inbound ministry decisions): a ministry or system identity, authority
    actions only, no organisation scope, If-Match honoured when given.
    With an Idempotency-Key a retried request replays the first answer (a retried inbound
    callback must not turn into a 409 because its first attempt already applied).
    """
    action = data.action
    if authority:
        if identity.role not in AUTHORITY_ROLES:
            raise Forbidden()
        if not ACTION_RULES[action].authority:
            raise ActionNotForRole(action=action.value)
    else:
        _require_caseload(identity)
        if expected is None:  # pragma: no cover - the route always parses If-Match
            raise Forbidden()
        async with db.uow() as uow:
            snapshot = await CredentialRepository(uow.session).get(credential_id)
            if snapshot is None:
                raise CredentialNotFound()
        await _ensure_visible(identity, snapshot, Registry(peers))

    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = CredentialRepository(uow.session)
        credential = await repo.get(credential_id)
        if credential is None:
            raise CredentialNotFound()
        if expected is not None:
            expected.check(credential.version)
        current = Status(credential.status)
        suspended_from = Status(credential.suspended_from) if credential.suspended_from else None
        target = next_status(current, action, suspended_from=suspended_from)
        if action is Action.RECOGNISE and credential.kind not in RECOGNISABLE_KINDS:
            raise RecognitionNotApplicable()

        now = utcnow()
        details: dict[str, Any] = {}
        if data.recognition is not None:
            rec = data.recognition
            credential.recognition_body = rec.body
            credential.recognition_resolution = rec.resolution_number
            credential.recognition_date = rec.resolution_date
            details["recognition"] = rec.model_dump(mode="json")
        if action is Action.APOSTILLE:
            details["legalisation"] = data.legalisation or "apostille"
        credential.suspended_from = current.value if target is Status.SUSPENDED else None
        credential.status = target.value
        credential.status_changed_at = now
        await uow.session.flush()  # bumps the version (optimistic check against the row)
        repo.add_transition(_transition_row(
            credential, action=action.value, from_status=current.value, to_status=target.value,
            identity=identity, reason=data.reason, details=details, now=now))
        # the kind and ISCED field are classification codes, not personal data: consumers
        # (a pathway's recognition step) need them to know which credential moved
        change = {"from": current.value, "to": target.value, "action": action.value,
                  "kind": credential.kind, "field_isced": credential.field_isced}
        uow.emit(_event("credential.status_changed", credential, change))
        if target is Status.REVOKED:
            uow.emit(_event("credential.revoked", credential, change))
        out = CredentialOut.of(credential)
        stored = await uow.remember(idempotency, status_code=200,
                                    body=out.model_dump(mode="json"),
                                    headers={"ETag": etag(credential.version)})
        await uow.commit()
    log.info("credential_transition", credential_id=credential_id, action=action.value,
             to=target.value, actor_role=identity.role.value)
    return stored


# --- verifiable credentials ---------------------------------------------------------------

async def export_vc(*, db: Database, peers: Peers, settings: Settings, identity: Identity,
                    credential_id: str) -> str:
    """The credential as a signed VC (compact JWS), for a credential we vouch for and a person
    who consented to share it. Each export is recorded (who, when, which key)."""
    _require_caseload(identity)
    registry = Registry(peers)
    async with db.uow() as uow:
        snapshot = await CredentialRepository(uow.session).get(credential_id)
        if snapshot is None:
            raise CredentialNotFound()
    profile = await _ensure_visible(identity, snapshot, registry)
    _ensure_exportable(snapshot)
    if profile is None:
        profile = await registry.profile(identity, snapshot.profile_id)
    if profile is None or not profile.full_name:
        raise CredentialNotFound()
    consent = await registry.consent(identity, snapshot.profile_id, SHARING_PURPOSE)
    if consent is None:
        raise CredentialNotFound()
    if not consent.granted:
        raise ConsentRequired()

    async with db.uow() as uow:
        credential = await CredentialRepository(uow.session).get(credential_id)
        if credential is None:
            raise CredentialNotFound()
        _ensure_exportable(credential)  # it may have moved since the first read
        key = await IssuerKeys(uow.session, Sealer.from_settings(settings)).active()
        statuses = StatusRepository(uow.session)
        slot = await statuses.slot_of(credential.id)
        now = utcnow()
        issuance = VcIssuance(id=str(uuid.uuid4()), credential_id=credential.id, kid=key.kid,
                              issued_by=identity.subject, issued_at=now,
                              valid_until=vc.valid_until_of(credential))
        statuses.add_issuance(issuance)
        claims = vc.build_credential(
            credential=credential, holder_name=profile.full_name, vc_id=issuance.id,
            issued_at=now, base_url=settings.public_base_url, status_list_id=slot.list_id,
            status_position=slot.position)
        token = vc.sign(claims, key)
        await uow.commit()
    log.info("vc_exported", credential_id=credential_id, kid=key.kid,
             consent_id=consent.consent_id)
    return token


def _ensure_exportable(credential: Credential) -> None:
    if Status(credential.status) not in VOUCHED:
        raise CredentialNotVouched(status=credential.status)
    if credential.expires_on is not None and credential.expires_on < date.today():
        raise CredentialExpired(expires_on=credential.expires_on.isoformat())


VERIFY_MESSAGES: dict[str | None, Text] = {
    None: Text("La credencial es válida.", "The credential is valid."),
    vc.Reason.MALFORMED: Text("No es una credencial JOSE compacta bien formada.",
                              "Not a well-formed compact JOSE credential."),
    vc.Reason.UNSUPPORTED_TYPE: Text("La cabecera no declara typ «vc+jwt».",
                                     "The header does not declare typ 'vc+jwt'."),
    vc.Reason.UNSUPPORTED_ALGORITHM: Text("Solo se aceptan firmas ES256.",
                                          "Only ES256 signatures are accepted."),
    vc.Reason.UNKNOWN_KEY: Text("La clave de firma no es de este emisor.",
                                "The signing key is not one of this issuer's."),
    vc.Reason.BAD_SIGNATURE: Text("La firma no corresponde al emisor.",
                                  "The signature does not match the issuer."),
    vc.Reason.NOT_A_CREDENTIAL: Text("El contenido no es una credencial verificable 2.0.",
                                     "The content is not a verifiable credential 2.0."),
    vc.Reason.NOT_YET_VALID: Text("La credencial aún no es válida.",
                                  "The credential is not valid yet."),
    vc.Reason.EXPIRED: Text("La credencial venció.", "The credential has expired."),
    vc.Reason.NO_STATUS: Text("La credencial no indica un estado que este emisor publique.",
                              "The credential carries no status this issuer publishes."),
    vc.Reason.REVOKED: Text("El emisor revocó la credencial.",
                            "The issuer has revoked the credential."),
    vc.Reason.SUSPENDED: Text("El emisor suspendió la credencial.",
                              "The issuer has suspended the credential."),
}


def _verdict(status: VerificationStatus, reason: vc.Reason | None, now: datetime) -> VerifyOut:
    return VerifyOut(status=status, reason=reason.value if reason else None,
                     message=VERIFY_MESSAGES[reason].render(), checked_at=now)


async def verify_vc(*, db: Database, token: str, now: datetime | None = None) -> VerifyOut:
    """Public verification: signature with one of our keys (current or retired), the VC 2.0
    data model, the validity period, then the status list bits. Any failure is the same
    shape; nothing about the person or our data beyond the credential itself."""
    now = now or utcnow()
    try:
        parsed = vc.parse(token)
        async with db.uow() as uow:
            public = await IssuerKeys(uow.session).public(parsed.kid)
            if public is None:
                raise vc.Invalid(vc.Reason.UNKNOWN_KEY)
            vc.verify_signature(parsed, public)
            vc.check_data_model(parsed.claims)
            issuer = parsed.claims["issuer"]
            issuer_ref = issuer.get("id") if isinstance(issuer, dict) else issuer
            if not str(issuer_ref).endswith(f"{vc.ISSUER_PATH}/profile"):
                raise vc.Invalid(vc.Reason.NOT_A_CREDENTIAL)
            vc.check_validity_period(parsed.claims, now)
            flags = set()
            statuses = StatusRepository(uow.session)
            types = parsed.claims.get("type")
            is_status_list = isinstance(types, list) and "BitstringStatusListCredential" in types
            for ref in [] if is_status_list else vc.status_refs(parsed.claims):
                state = await statuses.status_at(ref.list_id, ref.position)
                if state is not None and state in FLAGGED[ref.purpose]:
                    flags.add(ref.purpose)
    except vc.Invalid as exc:
        return _verdict(VerificationStatus.INVALID, exc.reason, now)
    if Purpose.REVOCATION in flags:
        return _verdict(VerificationStatus.REVOKED, vc.Reason.REVOKED, now)
    if Purpose.SUSPENSION in flags:
        return _verdict(VerificationStatus.SUSPENDED, vc.Reason.SUSPENDED, now)
    return _verdict(VerificationStatus.VALID, None, now)


async def issuer_jwks(*, db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.uow() as uow:
        return {"keys": await IssuerKeys(uow.session).all_public()}


async def issuer_profile(*, db: Database, settings: Settings) -> dict[str, Any]:
    async with db.uow() as uow:
        keys = await IssuerKeys(uow.session).all_public()
    return vc.issuer_profile(settings.public_base_url, keys)


async def status_list(*, db: Database, settings: Settings, list_id: str, purpose: Purpose,
                      signed: bool = True) -> str | dict[str, Any]:
    """The BitstringStatusListCredential of one list and purpose, signed as vc+jwt."""
    async with db.uow() as uow:
        statuses = StatusRepository(uow.session)
        found = await statuses.get_list(list_id)
        if found is None:
            raise StatusListNotFound()
        encoded = encode(await statuses.flagged_positions(list_id, purpose), found.size)
        claims = status_list_credential(
            url=vc.status_list_url(settings.public_base_url, list_id, purpose),
            issuer=vc.issuer_id(settings.public_base_url), purpose=purpose, encoded=encoded,
            valid_from=xml_datetime(utcnow()))
        if not signed:
            return claims
        key = await IssuerKeys(uow.session, Sealer.from_settings(settings)).active()
        token = vc.sign(claims, key)
        await uow.commit()  # a first key may have been made
        return token


async def rotate_issuer_key(*, db: Database, settings: Settings) -> str:
    """Make a new signing key; the previous ones stop signing but keep verifying."""
    async with db.uow() as uow:
        kid = await IssuerKeys(uow.session, Sealer.from_settings(settings)).rotate()
        await uow.commit()
    log.info("issuer_key_rotated", kid=kid)
    return kid


# --- events from other services -----------------------------------------------------------

async def on_profile_erased(uow: UnitOfWork, event: EventEnvelope) -> None:
    """Cancellation (ARCO): empty the person's credentials, keep kinds, states and codes."""
    repo = CredentialRepository(uow.session)
    count = await repo.erase_profile(event.subject_id)
    await repo.forget_stored_responses(event.subject_id)
    log.info("credentials_pseudonymised", count=count)


async def on_profile_merged(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A duplicate merged into another profile: its credentials follow the survivor."""
    survivor = event.data.get("merged_into")
    if isinstance(survivor, str) and 0 < len(survivor) <= 36:
        await CredentialRepository(uow.session).move_profile(event.subject_id, survivor)


async def on_profile_updated(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A person who moves region moves their credentials' scope with them."""
    changed = event.data.get("changed_fields") or []
    if "region" in changed and event.regions:
        await CredentialRepository(uow.session).move_profile_region(event.subject_id,
                                                                    event.regions[0])
