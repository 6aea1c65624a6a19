"""Registry use cases. Each opens its own unit of work and commits once: the change, its audit
rows, its outbox events and its idempotency record are stored together or not at all.

Who may do what (object-level; the gateway checks roles per route as well):

* ``caseworker``, ``coordinator``, ``ngo_partner`` register people for their organisation and
  read, rectify, cancel, merge and export the profiles their organisation registered (in their
  regions), and read the profiles other organisations shared with it by the person's consent;
* ``provider`` reads only profiles shared with its organisation by consent;
* ``coordinator`` of the owning organisation also reads the audit log; coordinators (their
  organisation), ``admin`` and the services' ``system`` identity read statistics;
* ``admin`` and ``ministry_system`` never read profile data (403): the admin role holds no
  personal or sensitive data;
* sensitive data needs the ``sensitive:read`` permission, and for a reader outside the owning
  organisation a referral consent that covers sensitive data, in writing.

An object outside the caller's scope is 404, never 403 (a 403 would confirm the person is
registered).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import ColumnElement, delete, text
from sqlalchemy.exc import IntegrityError

from services.registry import documents as docs
from services.registry import search
from services.registry.crypto import SensitiveCipher
from services.registry.models import Consent, Profile, ProfileStatus, profiles_table
from services.registry.repository import (
    DuplicateKey,
    ProfileRepository,
    by_document_audited,
    read_audited,
)
from services.registry.schemas import (
    AGE_BANDS,
    WRITTEN_EVIDENCE,
    ConsentIn,
    ConsentPurpose,
    ConsentStatus,
    MergeIn,
    ProfileCreate,
    ProfileUpdate,
    SensitiveData,
    check_district,
    normalise_phone,
)
from shared.authz import CASELOAD_ROLES, in_scope
from shared.clock import as_utc, utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database
from shared.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    validation_errors,
)
from shared.i18n import Text, current_language
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Permission, Role
from shared.models import new_id
from shared.outbox import Event
from shared.pagination import CursorCodec
from shared.regions import country_of
from shared.tables import idempotency_records

READERS = frozenset({*CASELOAD_ROLES, Role.PROVIDER})
STATISTICS_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN, Role.SYSTEM})
JSON_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS

# Audit "fields" of a read are these groups (a write lists the exact fields it changed).
GROUPS: dict[str, tuple[str, ...]] = {
    "identity": ("given_names", "first_surname", "second_surname", "birth_date", "sex",
                 "gender_identity", "nationality", "population_type"),
    "location": ("country", "region", "district"),
    "contact": ("phone", "email"),
    "employability": ("languages", "education_level", "education_field",
                      "occupation_current", "occupation_training", "occupation_desired",
                      "years_experience", "skills", "interest_employment",
                      "interest_self_employment"),
}
READ_GROUPS = ["identity", "location", "contact", "employability", "documents"]
SUMMARY_GROUPS = ["identity", "location"]
SCALAR_FIELDS = tuple(f for g in GROUPS.values() for f in g if f != "country")
PERSONAL_FIELDS = tuple(f for f in SCALAR_FIELDS
                        if f not in ("sex", "nationality", "population_type", "region"))
PUBLIC_COLUMNS = ("id", "organisation_id", "status", "version", *SCALAR_FIELDS[:8],
                  "country", "region", "district", "phone", "email",
                  *GROUPS["employability"], "opt_out_statistics", "opt_out_contact",
                  "created_at", "updated_at")


# --- errors ------------------------------------------------------------------------------
class ProfileNotFound(NotFound):
    code = "profile-not-found"
    detail_text = Text("El perfil no existe o no está a su alcance.",
                       "The profile does not exist or is outside your scope.")


class ConsentNotFound(NotFound):
    code = "consent-not-found"
    detail_text = Text("El consentimiento no existe o no está a su alcance.",
                       "The consent does not exist or is outside your scope.")


class ProfileErased(AppError):
    status = 410
    code = "profile-erased"
    detail_text = Text("Los datos de esta persona fueron cancelados (derecho ARCO).",
                       "This person's data was cancelled (ARCO right).")


class ProfileMerged(AppError):
    """The merged id answers with a pointer to the profile it was merged into."""

    status = 308
    code = "profile-merged"
    title = Text("Perfil fusionado", "Profile merged")
    detail_text = Text("Este perfil se fusionó con otro; use el perfil indicado en Location.",
                       "This profile was merged into another; use the one in Location.")

    def __init__(self, survivor_id: str) -> None:
        super().__init__(headers={"Location": f"/v1/profiles/{survivor_id}"},
                         extra={"merged_into": survivor_id})


class NoProfileData(Forbidden):
    code = "no-profile-data"
    detail_text = Text("Su rol no accede a datos de personas.",
                       "Your role does not access people's data.")


class RoleNotAllowed(Forbidden):
    code = "role-not-allowed"


class NotOwner(Forbidden):
    code = "not-owning-organisation"
    detail_text = Text("Solo la organización que registró a la persona puede hacer esto.",
                       "Only the organisation that registered the person can do this.")


class RegionOutsideScope(Forbidden):
    code = "region-outside-scope"
    detail_text = Text("No puede registrar personas fuera de sus regiones.",
                       "You cannot register people outside your regions.")


class SensitiveNotPermitted(Forbidden):
    code = "sensitive-permission-required"
    detail_text = Text("Los datos sensibles requieren el permiso sensitive:read.",
                       "Sensitive data needs the sensitive:read permission.")


class DuplicateDocument(Conflict):
    code = "duplicate-document"
    detail_text = Text("Ya existe una persona registrada con este documento.",
                       "A person with this document is already registered.")


class DuplicateDocumentVisible(DuplicateDocument):
    detail_text = Text("Ya existe una persona registrada con este documento: {location}.",
                       "A person with this document is already registered: {location}.")


class ConsentNotGranted(Conflict):
    code = "consent-not-withdrawable"
    detail_text = Text("Solo un consentimiento otorgado y vigente puede retirarse.",
                       "Only a granted, unexpired consent can be withdrawn.")


class MergeNotPossible(Conflict):
    code = "merge-not-possible"
    detail_text = Text("Solo se fusionan dos perfiles activos y distintos de su organización.",
                       "Only two distinct active profiles of your organisation can be merged.")


class BatchConflict(Conflict):
    code = "concurrent-write"
    detail_text = Text("Otra solicitud registró los mismos documentos a la vez; reintente.",
                       "Another request registered the same documents meanwhile; retry.")


_SENSITIVE_CONSENT = Text(
    "Los datos sensibles requieren un consentimiento de registro otorgado, por escrito, que "
    "cubra datos sensibles (Ley 29733)",
    "Sensitive data needs a granted, written registration consent covering sensitive data "
    "(Ley 29733)")
_REPEATED_DOCUMENT = Text("Documento repetido en la misma solicitud",
                          "The same document appears twice in the request")
_REGION_ITEM = Text("Región fuera de su ámbito", "Region outside your scope")
_SENSITIVE_ITEM = Text("Los datos sensibles requieren el permiso sensitive:read",
                       "Sensitive data needs the sensitive:read permission")
_BAD_PHONE = Text("Teléfono no válido para la región del perfil",
                  "Invalid phone for the profile's region")
_DISTRICT_STALE = Text("Al cambiar la región envíe también el distrito (o null)",
                       "When changing the region, send the district too (or null)")


# --- small helpers -----------------------------------------------------------------------
def _require(identity: Identity, roles: Iterable[Role]) -> None:
    if identity.role in (Role.ADMIN, Role.MINISTRY_SYSTEM):
        raise NoProfileData()
    if identity.role not in roles or identity.organisation_id is None:
        raise RoleNotAllowed()


def age_band(birth: date | None, today: date | None = None) -> str | None:
    if birth is None:
        return None
    today = today or date.today()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    for upper, label in zip((18, 25, 35, 45, 60), AGE_BANDS, strict=False):
        if age < upper:
            return label
    return "60+"


def _location(profile_id: str) -> str:
    return f"/v1/profiles/{profile_id}"


def _audit(identity: Identity, profile_id: str, action: str, fields: Sequence[str],
           now: datetime) -> dict[str, Any]:
    return {"profile_id": profile_id, "at": now, "action": action,
            "actor_subject": identity.subject, "actor_role": identity.role.value,
            "actor_organisation_id": identity.organisation_id, "fields": list(fields),
            "request_id": identity.request_id}


def _event(kind: str, p: Any, data: dict[str, Any] | None = None) -> Event:
    return Event(type=kind, subject_type="profile", subject_id=p.id,
                 subject_version=p.version, organisation_id=p.organisation_id,
                 regions=[p.region], data=data or {})


def document_dict(d: Any, prefix: str = "", today: date | None = None) -> dict[str, Any]:
    g = (lambda n: getattr(d, prefix + n)) if prefix else (lambda n: getattr(d, n))
    doc_type = docs.DocumentType(g("type") if prefix else d.doc_type)
    expiry = g("expiry") if prefix else d.expiry_date
    today = today or date.today()
    return {
        "id": g("id"), "type": doc_type.value, "number": g("number"),
        "issuing_country": g("country") if prefix else d.issuing_country,
        "expiry_date": expiry, "verification": g("verification"),
        "authorises_work": g("authorises_work"),
        "expired": expiry is not None and expiry < today,
        "accepted_for_identification": docs.accepted_for_identification(doc_type, expiry,
                                                                        today),
        "created_at": as_utc(g("created_at")),
    }


def profile_dict(p: Any, documents: list[dict[str, Any]], *,
                 sensitive: dict[str, Any] | None = None, include_sensitive: bool = False,
                 today: date | None = None) -> dict[str, Any]:
    out = {k: getattr(p, k) for k in PUBLIC_COLUMNS}
    out["created_at"] = as_utc(out["created_at"])
    out["updated_at"] = as_utc(out["updated_at"])
    out["age_band"] = age_band(p.birth_date, today) or p.erased_age_band
    out["documents"] = documents
    if include_sensitive:
        out["sensitive"] = sensitive
    return out


def summary_dict(r: Any, score: float | None = None) -> dict[str, Any]:
    return {"id": r.id, "organisation_id": r.organisation_id, "status": r.status,
            "version": r.version, "given_names": r.given_names,
            "first_surname": r.first_surname, "second_surname": r.second_surname,
            "birth_date": r.birth_date, "sex": r.sex, "nationality": r.nationality,
            "population_type": r.population_type, "region": r.region, "score": score}


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=JSON_OPTS)


@dataclass(frozen=True)
class Access:
    owner: bool
    sensitive: bool


async def _access(repo: ProfileRepository, identity: Identity, p: Any, now: datetime
                  ) -> Access | None:
    """How ``identity`` may see profile ``p`` (row or object), or None: out of scope."""
    sensitive_perm = identity.has(Permission.SENSITIVE_READ)
    if identity.role is not Role.PROVIDER and in_scope(
            identity, organisation_id=p.organisation_id, region=p.region):
        return Access(owner=True, sensitive=sensitive_perm)
    org = identity.organisation_id
    if org is None or org == p.organisation_id:
        return None
    if identity.regions and p.region not in identity.regions:
        return None
    shared, covers_sensitive = await repo.is_shared_with(p.id, org, now)
    if not shared or not in_scope(identity, organisation_id=p.organisation_id,
                                  region=p.region, shared_with=(org,)):
        return None
    return Access(owner=False, sensitive=sensitive_perm and covers_sensitive)


async def _check_status(repo: ProfileRepository, identity: Identity, p: Any,
                        access: Access | None, now: datetime) -> Access:
    """Active profiles pass; merged ones point to their survivor, cancelled ones are gone."""
    if p.status == ProfileStatus.MERGED and p.merged_into:
        survivor = await repo.get(p.merged_into)
        if survivor is not None and await _access(repo, identity, survivor, now):
            raise ProfileMerged(survivor.id)
        raise ProfileNotFound()
    if access is None:
        raise ProfileNotFound()
    if p.status == ProfileStatus.ERASED:
        if access.owner:
            raise ProfileErased()
        raise ProfileNotFound()
    return access


async def _load(repo: ProfileRepository, identity: Identity, profile_id: str, now: datetime,
                *, owner_only: bool) -> tuple[Profile, Access]:
    p = await repo.get(profile_id)
    if p is None:
        raise ProfileNotFound()
    access = await _check_status(repo, identity, p, await _access(repo, identity, p, now),
                                 now)
    if owner_only and not access.owner:
        raise NotOwner()
    return p, access


def _decrypt(cipher: SensitiveCipher, p: Any) -> dict[str, Any] | None:
    if p.sensitive_ciphertext is None or p.sensitive_key_id is None:
        return None
    return cipher.decrypt(p.id, p.sensitive_key_id, p.sensitive_ciphertext)


# --- consent decisions -------------------------------------------------------------------
def effective_status(c: Any, now: datetime) -> str:
    if c.status == ConsentStatus.GRANTED and c.valid_until is not None \
            and as_utc(c.valid_until) <= now:
        return ConsentStatus.EXPIRED.value
    return str(c.status)


def decide(consents: Sequence[Any], purpose: str, recipient: str | None,
           programme: str | None, now: datetime) -> Any | None:
    """The consent that grants ``purpose`` to ``recipient``, or None.

    The most specific records decide first (naming the recipient, then general ones), and
    among them the most recent: a later refusal or withdrawal overrides an earlier grant.
    """
    def matches(c: Any) -> bool:
        if c.purpose != purpose:
            return False
        if c.programme_id is not None and programme is not None and c.programme_id != programme:
            return False
        if c.recipient_organisation_id is not None:
            return c.recipient_organisation_id == recipient
        if purpose == ConsentPurpose.REFERRAL:
            return programme is not None and c.programme_id == programme
        return True

    candidates = [c for c in consents if matches(c)]
    specific = [c for c in candidates if c.recipient_organisation_id is not None]
    for group in (specific, [c for c in candidates if c.recipient_organisation_id is None]):
        if group:
            latest = max(group, key=lambda c: (as_utc(c.recorded_at), c.id))
            return latest if effective_status(latest, now) == ConsentStatus.GRANTED else None
    return None


def _covers_sensitive(consents: Sequence[Any], now: datetime) -> bool:
    c = decide([x for x in consents if x.sensitive_data], ConsentPurpose.REGISTRATION, None,
               None, now)
    return c is not None and c.evidence in WRITTEN_EVIDENCE


def consent_dict(c: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": c.id, "profile_id": c.profile_id, "purpose": c.purpose,
        "status": effective_status(c, now),
        "recipient_organisation_id": c.recipient_organisation_id,
        "programme_id": c.programme_id, "sensitive_data": bool(c.sensitive_data),
        "evidence": c.evidence, "evidence_reference": c.evidence_reference,
        "witnessed_by": c.witnessed_by,
        "valid_until": as_utc(c.valid_until) if c.valid_until else None,
        "recorded_by": c.recorded_by, "recorded_by_organisation_id":
        c.recorded_by_organisation_id, "recorded_at": as_utc(c.recorded_at),
        "withdrawn_at": as_utc(c.withdrawn_at) if c.withdrawn_at else None,
        "withdrawn_by": c.withdrawn_by, "version": c.version,
    }


def _consent_row(profile_id: str, c: ConsentIn, identity: Identity, now: datetime
                 ) -> dict[str, Any]:
    return {"id": new_id(), "profile_id": profile_id, "purpose": c.purpose.value,
            "recipient_organisation_id": c.recipient_organisation_id,
            "programme_id": c.programme_id, "status": c.status,
            "sensitive_data": c.sensitive_data, "evidence": c.evidence.value,
            "evidence_reference": c.evidence_reference, "witnessed_by": c.witnessed_by,
            "valid_until": c.valid_until, "recorded_by": identity.subject,
            "recorded_by_organisation_id": identity.organisation_id, "recorded_at": now,
            "withdrawn_at": None, "withdrawn_by": None, "version": 1}


def _opposition(consents: Sequence[Any], now: datetime) -> tuple[bool, bool]:
    """(opt out of statistics, opt out of contact) from the person's latest decisions: a
    refused or withdrawn statistics/contact consent is an ARCO opposition."""
    out = []
    for purpose in (ConsentPurpose.STATISTICS, ConsentPurpose.CONTACT):
        general = [c for c in consents if c.purpose == purpose
                   and c.recipient_organisation_id is None and c.programme_id is None]
        if not general:
            out.append(False)
            continue
        latest = max(general, key=lambda c: (as_utc(c.recorded_at), c.id))
        out.append(str(latest.status) in (ConsentStatus.REFUSED, ConsentStatus.WITHDRAWN))
    return out[0], out[1]


# --- create ------------------------------------------------------------------------------
@dataclass
class Prepared:
    profile: dict[str, Any]
    documents: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    doc_keys: list[tuple[str, str, str]]
    sensitive: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)


def _item_errors(identity: Identity, data: ProfileCreate) -> list[tuple[str, Text]]:
    """Checks of one new person beyond the schema, as field errors."""
    errors: list[tuple[str, Text]] = []
    if identity.regions and data.region not in identity.regions:
        errors.append(("region", _REGION_ITEM))
    seen: set[tuple[str, str, str]] = set()
    for i, d in enumerate(data.documents):
        key = (d.type.value, d.issuing_country or "", d.number)
        if key in seen:
            errors.append((f"documents[{i}]", _REPEATED_DOCUMENT))
        seen.add(key)
    if data.sensitive is not None:
        if not identity.has(Permission.SENSITIVE_READ):
            errors.append(("sensitive", _SENSITIVE_ITEM))
        elif not any(c.purpose is ConsentPurpose.REGISTRATION and c.status == "granted"
                     and c.sensitive_data for c in data.consents):
            errors.append(("sensitive", _SENSITIVE_CONSENT))
    return errors


def prepare(identity: Identity, data: ProfileCreate, cipher: SensitiveCipher, now: datetime,
            *, profile_id: str | None = None) -> Prepared:
    pid = profile_id or new_id()
    fields = data.model_dump(exclude={"documents", "consents", "sensitive"})
    for k in ("sex", "population_type", "gender_identity"):
        if fields.get(k) is not None:
            fields[k] = str(fields[k])
    consents = [_consent_row(pid, c, identity, now) for c in data.consents]
    opt_stats, opt_contact = _opposition([_Row(c) for c in consents], now)
    sensitive = data.sensitive.model_dump(mode="json") if data.sensitive else None
    key_id, blob = cipher.encrypt(pid, sensitive) if sensitive is not None else (None, None)
    profile = {
        **fields, "id": pid, "organisation_id": identity.organisation_id,
        "country": country_of(data.region), "status": ProfileStatus.ACTIVE,
        "created_by": identity.subject, "created_at": now, "updated_at": now, "version": 1,
        "search_key": search.normalise(data.given_names, data.first_surname,
                                       data.second_surname),
        "opt_out_statistics": opt_stats, "opt_out_contact": opt_contact,
        "sensitive_ciphertext": blob, "sensitive_key_id": key_id, "merged_into": None,
        "erased_age_band": None, "erased_at": None,
    }
    documents = [{
        "id": new_id(), "profile_id": pid, "doc_type": d.type.value, "number": d.number,
        "issuing_country": d.issuing_country, "expiry_date": d.expiry_date,
        "verification": d.verification.value, "authorises_work": d.authorises_work,
        # microseconds apart, so a read lists them in the order they were given
        "created_at": now + timedelta(microseconds=i), "created_by": identity.subject,
    } for i, d in enumerate(data.documents)]
    keys = [(d.type.value, d.issuing_country or "", d.number) for d in data.documents]
    return Prepared(profile, documents, consents, keys, sensitive)


class _Row:
    """Attribute access over a row dictionary (consent rules work on rows and objects)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _created_body(prep: Prepared) -> dict[str, Any]:
    row = _Row(prep.profile)
    documents = [document_dict(_Row({**d, "doc_type": d["doc_type"]})) for d in prep.documents]
    body = profile_dict(row, documents, sensitive=prep.sensitive,
                        include_sensitive=prep.sensitive is not None)
    body["duplicate_candidates"] = prep.candidates
    return body


async def _visible_where(repo: ProfileRepository, identity: Identity, now: datetime
                         ) -> ColumnElement[bool]:
    org = identity.organisation_id
    shared = await repo.shared_profile_ids(org, now) if org else []
    return repo.visible(identity, now, shared)


async def _near_matches(repo: ProfileRepository, identity: Identity, now: datetime, *,
                        birth: date, nationality: str, key: str | None,
                        exclude: str | None) -> list[dict[str, Any]]:
    """Visible active profiles with the same (or day/month-swapped) birth date and a similar
    name: the usual shape of a person registered twice."""
    if not key:
        return []
    dates = [birth]
    if birth.day <= 12 and birth.day != birth.month:
        with contextlib.suppress(ValueError):
            dates.append(birth.replace(month=birth.day, day=birth.month))
    rows = await repo.born_on(dates, exclude=exclude,
                              where=[repo.visible_exists(identity, now)])
    out = []
    for r in rows:
        if not r.search_key:
            continue
        s = round(max(search.score(key, r.search_key), search.score(r.search_key, key)), 1)
        if s < search.MATCH_CUTOFF:
            continue
        reasons = ["name", "birth_date" if r.birth_date == birth
                   else "birth_date_day_month_swapped"]
        if r.nationality == nationality:
            reasons.append("nationality")
        out.append({"id": r.id, "score": s, "reasons": reasons,
                    "given_names": r.given_names, "first_surname": r.first_surname,
                    "second_surname": r.second_surname, "birth_date": r.birth_date,
                    "nationality": r.nationality, "region": r.region})
    out.sort(key=lambda c: (-c["score"], c["id"]))
    return out[:20]


async def _pointer_if_visible(repo: ProfileRepository, identity: Identity, now: datetime,
                              owner: tuple[str, str, str, str]) -> str | None:
    pid, org, region, status = owner
    if status != ProfileStatus.ACTIVE:
        return None
    p = _Row({"id": pid, "organisation_id": org, "region": region})
    return pid if await _access(repo, identity, p, now) is not None else None


async def create_profile(
    *, db: Database, identity: Identity, data: ProfileCreate,
    idempotency: IdempotencyKey | None = None, cipher: SensitiveCipher | None = None,
) -> StoredResponse:
    _require(identity, CASELOAD_ROLES)
    if identity.regions and data.region not in identity.regions:
        raise RegionOutsideScope()
    if data.sensitive is not None and not identity.has(Permission.SENSITIVE_READ):
        raise SensitiveNotPermitted()
    errors = _item_errors(identity, data)
    if errors:
        raise ValidationFailed(errors)
    cipher = cipher or _default_cipher()
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        prep = prepare(identity, data, cipher, now)
        existing = await repo.find_documents(prep.doc_keys)
        if existing:
            for owner in existing.values():
                if (pointer := await _pointer_if_visible(repo, identity, now, owner)):
                    raise DuplicateDocumentVisible(
                        location=_location(pointer),
                        extra={"existing_profile_id": pointer,
                               "existing_profile": _location(pointer)})
            raise DuplicateDocument()
        prep.candidates = await _near_matches(
            repo, identity, now, birth=data.birth_date, nationality=data.nationality,
            key=prep.profile["search_key"], exclude=None)
        try:
            await repo.insert_many([prep.profile], prep.documents, prep.consents)
        except DuplicateKey:
            raise DuplicateDocument() from None
        pid = prep.profile["id"]
        fields = [f for f in SCALAR_FIELDS if prep.profile.get(f) is not None]
        fields += ["documents"] * bool(prep.documents) + ["consents"] * bool(prep.consents)
        fields += ["sensitive"] * (prep.sensitive is not None)
        await repo.add_audit([_audit(identity, pid, "create", fields, now)] + [
            _audit(identity, c["id"], "search", SUMMARY_GROUPS, now) for c in prep.candidates])
        row = _Row(prep.profile)
        uow.emit(_event("profile.created", row))
        for c in prep.consents:
            if c["status"] == ConsentStatus.GRANTED:
                uow.emit(_consent_event("consent.granted", row, c))
        stored = await uow.remember(
            idempotency, status_code=201, body=dumps(_created_body(prep)),
            headers={"ETag": etag(1), "Location": _location(pid),
                     "Cache-Control": "no-store"})
        await uow.commit()
        return stored


def _consent_event(kind: str, p: Any, c: Any) -> Event:
    g = c.get if isinstance(c, dict) else (lambda k: getattr(c, k))
    return _event(kind, p, {"consent_id": g("id"), "purpose": g("purpose"),
                            "recipient_organisation_id": g("recipient_organisation_id"),
                            "programme_id": g("programme_id")})


_CIPHER: dict[str, SensitiveCipher] = {}


def _default_cipher() -> SensitiveCipher:
    """For callers outside the app (demo seeding): the keys from the environment."""
    if "default" not in _CIPHER:
        from shared.settings import Settings

        _CIPHER["default"] = SensitiveCipher.from_settings(Settings())
    return _CIPHER["default"]


# --- bulk --------------------------------------------------------------------------------
async def bulk_create(
    *, db: Database, identity: Identity, items: list[Any], cipher: SensitiveCipher,
    idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    """Up to 1,000 people in one transaction, each judged on its own: created, duplicate
    (document already registered, or repeated in the batch) or invalid (with field errors)."""
    _require(identity, CASELOAD_ROLES)
    lang = current_language()
    now = utcnow()
    results: list[dict[str, Any]] = [{} for _ in items]
    prepared: list[tuple[int, Prepared]] = []
    for i, raw in enumerate(items):
        try:
            data = ProfileCreate.model_validate(raw)
        except ValidationError as exc:
            results[i] = {"index": i, "status": "invalid",
                          "errors": validation_errors(exc.errors(), lang)}
            continue
        errors = _item_errors(identity, data)
        if errors:
            results[i] = {"index": i, "status": "invalid", "errors": [
                {"field": f, "message": t.render(lang)} for f, t in errors]}
            continue
        prepared.append((i, prepare(identity, data, cipher, now)))

    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        existing = await repo.find_documents({k for _, p in prepared for k in p.doc_keys})
        owners = {v[0]: v for v in existing.values()}
        org = identity.organisation_id or ""
        shared = await repo.shared_among(org, [pid for pid, o, _, _ in owners.values()
                                               if o != org], now)
        first_seen: dict[tuple[str, str, str], int] = {}
        to_insert: list[tuple[int, Prepared]] = []
        for i, prep in prepared:
            dup = next((existing[k] for k in prep.doc_keys if k in existing), None)
            if dup is not None:
                pid, o, region, status = dup
                visible = status == ProfileStatus.ACTIVE and (
                    (o == org and identity.role is not Role.PROVIDER) or pid in shared) and (
                    not identity.regions or region in identity.regions)
                results[i] = {"index": i, "status": "duplicate",
                              "existing_profile_id": pid if visible else None}
                continue
            earlier = next((first_seen[k] for k in prep.doc_keys if k in first_seen), None)
            if earlier is not None:
                results[i] = {"index": i, "status": "duplicate", "duplicate_of_index": earlier}
                continue
            for k in prep.doc_keys:
                first_seen[k] = i
            to_insert.append((i, prep))
            results[i] = {"index": i, "status": "created", "id": prep.profile["id"]}
        try:
            await repo.insert_many([p.profile for _, p in to_insert],
                                   [d for _, p in to_insert for d in p.documents],
                                   [c for _, p in to_insert for c in p.consents])
        except DuplicateKey:
            raise BatchConflict() from None
        audit = []
        for _, prep in to_insert:
            row = _Row(prep.profile)
            fields = [f for f in SCALAR_FIELDS if prep.profile.get(f) is not None]
            audit.append(_audit(identity, row.id, "create", fields, now))
            uow.emit(_event("profile.created", row))
            for c in prep.consents:
                if c["status"] == ConsentStatus.GRANTED:
                    uow.emit(_consent_event("consent.granted", row, c))
        await repo.add_audit(audit)
        body = {
            "created": sum(r["status"] == "created" for r in results),
            "duplicates": sum(r["status"] == "duplicate" for r in results),
            "invalid": sum(r["status"] == "invalid" for r in results),
            "results": [{k: v for k, v in r.items() if v is not None} for r in results],
        }
        stored = await uow.remember(idempotency, status_code=200, body=dumps(body),
                                    headers={"Cache-Control": "no-store"})
        await uow.commit()
        return stored


# --- read --------------------------------------------------------------------------------
async def read_profile(*, db: Database, identity: Identity, cipher: SensitiveCipher,
                       profile_id: str) -> tuple[bytes, int]:
    """The hot path. On PostgreSQL the common case (the owner reads an active profile) is
    one statement that reads and audits; everything else, and SQLite, goes through a unit
    of work: one joined SELECT, a consent lookup for a shared reader, one audit INSERT."""
    _require(identity, READERS)
    now = utcnow()
    rows: Sequence[Any]
    if db.is_postgres and identity.role is not Role.PROVIDER and identity.organisation_id:
        # the common case in one statement: the owner's organisation reads an active profile
        sensitive = identity.has(Permission.SENSITIVE_READ)
        audit = _audit(identity, profile_id, "read", _read_groups(sensitive), now)
        async with db.statement() as conn:
            rows = await read_audited(conn, profile_id=profile_id, audit=audit,
                                      regions=identity.regions)
        if not rows:
            raise ProfileNotFound()
        if rows[0].audited:
            return _read_body(cipher, rows, Access(owner=True, sensitive=sensitive),
                              now), rows[0].version
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        rows = await repo.get_with_documents(profile_id)
        if not rows:
            raise ProfileNotFound()
        p = rows[0]
        access = await _check_status(repo, identity, p, await _access(repo, identity, p, now),
                                     now)
        body = _read_body(cipher, rows, access, now)
        await repo.add_audit([_audit(identity, p.id, "read", _read_groups(access.sensitive),
                                     now)])
        await uow.commit()
    return body, p.version


def _read_groups(sensitive: bool) -> list[str]:
    return [*READ_GROUPS, "sensitive"] if sensitive else READ_GROUPS


def _read_body(cipher: SensitiveCipher, rows: Sequence[Any], access: Access, now: datetime
               ) -> bytes:
    p, today = rows[0], now.date()
    documents = [document_dict(r, "d_", today) for r in rows if r.d_id is not None]
    sensitive = _decrypt(cipher, p) if access.sensitive else None
    return dumps(profile_dict(p, documents, sensitive=sensitive,
                              include_sensitive=access.sensitive, today=today))


# --- update (ARCO rectification) ---------------------------------------------------------
async def update_profile(
    *, db: Database, identity: Identity, profile_id: str, data: ProfileUpdate,
    expected: ExpectedVersion, cipher: SensitiveCipher,
) -> tuple[bytes, int]:
    _require(identity, CASELOAD_ROLES)
    sent = data.model_fields_set
    if "region" in sent and identity.regions and data.region not in identity.regions:
        raise RegionOutsideScope()
    if "sensitive" in sent and not identity.has(Permission.SENSITIVE_READ):
        raise SensitiveNotPermitted()
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, access = await _load(repo, identity, profile_id, now, owner_only=True)
        expected.check(p.version)
        changed: list[str] = []
        if "phone" in sent and data.phone is not None:
            try:  # a national number is read in the region the profile will be in
                data.phone = normalise_phone(data.phone, data.region or p.region)
            except ValueError:
                raise ValidationFailed([("phone", _BAD_PHONE)]) from None
        for name in SCALAR_FIELDS:
            if name in sent:
                value = getattr(data, name)
                value = str(value) if hasattr(value, "value") else value
                if getattr(p, name) != value:
                    setattr(p, name, value)
                    changed.append(name)
        if "region" in changed:
            p.country = country_of(p.region)
            if "district" not in sent and p.district:
                try:
                    check_district(p.region, p.district)
                except ValueError:
                    raise ValidationFailed([("district", _DISTRICT_STALE)]) from None
        if "documents" in sent and data.documents is not None \
                and await _replace_documents(repo, identity, p, data, now):
            changed.append("documents")
        sensitive_changed = False
        if "sensitive" in sent:
            sensitive_changed = await _set_sensitive(repo, p, data.sensitive, cipher, now)
        if changed or sensitive_changed:
            p.updated_at = now  # documents or sensitive alone still make a new version
            try:
                await uow.session.flush()
            except IntegrityError:
                raise DuplicateDocument() from None
            public = [f for f in changed if f != "sensitive"]
            if public:
                uow.emit(_event("profile.updated", p, {"changed_fields": sorted(public)}))
        await repo.add_audit([_audit(identity, p.id, "update",
                                     changed + ["sensitive"] * sensitive_changed, now)])
        documents = [document_dict(d) for d in await repo.documents_of([p.id])]
        body = profile_dict(p, documents, sensitive=_decrypt(cipher, p) if access.sensitive
                            else None, include_sensitive=access.sensitive)
        await uow.commit()
    return dumps(body), p.version


async def _replace_documents(repo: ProfileRepository, identity: Identity, p: Profile,
                             data: ProfileUpdate, now: datetime) -> bool:
    assert data.documents is not None
    current = await repo.documents_of([p.id])
    by_key: dict[tuple[str, str, str | None], Any] = {
        (d.doc_type, d.issuing_country, d.number): d for d in current}
    wanted: dict[tuple[str, str, str | None], Any] = {}
    for i, d in enumerate(data.documents):
        key = (d.type.value, d.issuing_country or "", d.number)
        if key in wanted:
            raise ValidationFailed([(f"documents[{i}]", _REPEATED_DOCUMENT)])
        wanted[key] = d
    new_keys = [(k[0], k[1], k[2] or "") for k in wanted if k not in by_key]
    existing = await repo.find_documents(new_keys)
    for owner in existing.values():
        if owner[0] != p.id:
            if (pointer := await _pointer_if_visible(repo, identity, now, owner)):
                raise DuplicateDocumentVisible(
                    location=_location(pointer),
                    extra={"existing_profile_id": pointer,
                           "existing_profile": _location(pointer)})
            raise DuplicateDocument()
    changed = False
    for have, doc in by_key.items():
        if have not in wanted:
            await repo.session.delete(doc)
            changed = True
            continue
        new = wanted[have]
        for attr, value in (("expiry_date", new.expiry_date),
                            ("verification", new.verification.value),
                            ("authorises_work", new.authorises_work)):
            if getattr(doc, attr) != value:
                setattr(doc, attr, value)
                changed = True
    if by_key.keys() - wanted.keys():
        await repo.session.flush()  # free the numbers before re-adding any
    from services.registry.models import IdentityDocument

    for nk in new_keys:
        d = wanted[nk]
        repo.session.add(IdentityDocument(
            profile_id=p.id, doc_type=nk[0], number=nk[2], issuing_country=nk[1],
            expiry_date=d.expiry_date, verification=d.verification.value,
            authorises_work=d.authorises_work, created_at=now, created_by=identity.subject))
        changed = True
    return changed


async def _set_sensitive(repo: ProfileRepository, p: Profile, value: SensitiveData | None,
                         cipher: SensitiveCipher, now: datetime) -> bool:
    if value is None:
        if p.sensitive_ciphertext is None:
            return False
        p.sensitive_ciphertext = None
        p.sensitive_key_id = None
        return True
    if not _covers_sensitive(await repo.consents_of(p.id), now):
        raise ValidationFailed([("sensitive", _SENSITIVE_CONSENT)])
    p.sensitive_key_id, p.sensitive_ciphertext = cipher.encrypt(
        p.id, value.model_dump(mode="json"))
    return True


# --- cancellation (ARCO) -----------------------------------------------------------------
def _pseudonymise(p: Profile, now: datetime) -> None:
    p.erased_age_band = age_band(p.birth_date, now.date()) or p.erased_age_band
    for name in PERSONAL_FIELDS:
        setattr(p, name, None)
    p.sensitive_ciphertext = None
    p.sensitive_key_id = None
    p.search_key = None


async def erase_profile(*, db: Database, identity: Identity, profile_id: str,
                        expected: ExpectedVersion) -> None:
    """Pseudonymise: personal columns emptied, documents made unmatchable, granted consents
    withdrawn; age band, sex, nationality, population type and region stay for statistics.
    ``profile.erased`` tells the other services to do the same with what they hold."""
    _require(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, _ = await _load(repo, identity, profile_id, now, owner_only=True)
        expected.check(p.version)
        _pseudonymise(p, now)
        p.status = ProfileStatus.ERASED
        p.erased_at = now
        p.updated_at = now
        for d in await repo.documents_of([p.id]):
            d.number = None
            d.expiry_date = None
        for c in await repo.consents_of(p.id):
            if c.status == ConsentStatus.GRANTED:
                c.status = ConsentStatus.WITHDRAWN.value
                c.withdrawn_at = now
                c.withdrawn_by = identity.subject
        await uow.session.flush()
        # the first response of an idempotent create holds the person's data: forget it
        await _forget_stored_responses(uow.session, p.id)
        await repo.add_audit([_audit(identity, p.id, "erase", PERSONAL_FIELDS, now)])
        uow.emit(_event("profile.erased", p))
        await uow.commit()


async def _forget_stored_responses(session: Any, profile_id: str) -> None:
    needle = profile_id.encode()
    is_pg = session.bind is not None and session.bind.dialect.name == "postgresql"
    cond = (text("position(CAST(:needle AS bytea) IN body) > 0") if is_pg
            else text("instr(body, :needle) > 0"))
    await session.execute(delete(idempotency_records).where(cond),
                          {"needle": needle})


# --- merge -------------------------------------------------------------------------------
_MERGE_FILL = (*SCALAR_FIELDS,)


async def merge_profiles(*, db: Database, identity: Identity, survivor_id: str, data: MergeIn,
                         expected: ExpectedVersion, cipher: SensitiveCipher
                         ) -> tuple[bytes, int]:
    """Keep the survivor; move the duplicate's documents, consents and history to it; fill
    the survivor's empty fields from the duplicate; leave the duplicate as a pointer."""
    _require(identity, CASELOAD_ROLES)
    if data.duplicate_id == survivor_id:
        raise MergeNotPossible()
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        survivor, access = await _load(repo, identity, survivor_id, now, owner_only=True)
        expected.check(survivor.version)
        dup, _ = await _load(repo, identity, data.duplicate_id, now, owner_only=True)
        if data.duplicate_version is not None and dup.version != data.duplicate_version:
            from shared.errors import PreconditionFailed

            raise PreconditionFailed()
        changed: list[str] = []
        for name in _MERGE_FILL:
            mine, theirs = getattr(survivor, name), getattr(dup, name)
            if name in ("languages", "skills") and theirs:
                union = list(dict.fromkeys([*(mine or []), *theirs]))
                if union != (mine or []):
                    setattr(survivor, name, union)
                    changed.append(name)
            elif mine is None and theirs is not None:
                setattr(survivor, name, theirs)
                changed.append(name)
        for flag in ("opt_out_statistics", "opt_out_contact"):
            if getattr(dup, flag) and not getattr(survivor, flag):
                setattr(survivor, flag, True)  # an opposition is never lost in a merge
                changed.append(flag)
        sensitive_changed = False
        theirs_sensitive = _decrypt(cipher, dup)
        if theirs_sensitive is not None:
            mine_sensitive = _decrypt(cipher, survivor) or {}
            merged = _merge_sensitive(mine_sensitive, theirs_sensitive)
            survivor.sensitive_key_id, survivor.sensitive_ciphertext = cipher.encrypt(
                survivor.id, merged)
            sensitive_changed = True
        moved_docs, moved_consents = await repo.move_children(dup.id, survivor.id)
        changed += ["documents"] * bool(moved_docs) + ["consents"] * bool(moved_consents)
        _pseudonymise(dup, now)
        dup.status = ProfileStatus.MERGED
        dup.merged_into = survivor.id
        dup.updated_at = now
        survivor.updated_at = now
        await uow.session.flush()
        uow.emit(_event("profile.merged", dup, {"merged_into": survivor.id}))
        public = sorted(f for f in changed if f != "sensitive")
        if public:
            uow.emit(_event("profile.updated", survivor, {"changed_fields": public}))
        await repo.add_audit([
            _audit(identity, survivor.id, "merge", changed + ["sensitive"] * sensitive_changed,
                   now),
            _audit(identity, dup.id, "merged_into", [], now)])
        documents = [document_dict(d) for d in await repo.documents_of([survivor.id])]
        body = profile_dict(survivor, documents,
                            sensitive=_decrypt(cipher, survivor) if access.sensitive else None,
                            include_sensitive=access.sensitive)
        await uow.commit()
    return dumps(body), survivor.version


def _merge_sensitive(mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    out = dict(mine)
    for k, v in theirs.items():
        if isinstance(v, list):
            out[k] = list(dict.fromkeys([*(out.get(k) or []), *v]))
        elif isinstance(v, bool):
            out[k] = bool(out.get(k)) or v
        elif isinstance(v, str) and out.get(k) and out[k] != v:
            out[k] = f"{out[k]}\n{v}"
        elif out.get(k) is None:
            out[k] = v
    return out


# --- lists and search --------------------------------------------------------------------
@dataclass(frozen=True)
class SearchFilters:
    q: str | None = None
    document: str | None = None
    document_type: str | None = None
    region: str | None = None
    status: str = ProfileStatus.ACTIVE
    organisation_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"q": self.q, "document": self.document, "document_type": self.document_type,
                "region": self.region, "status": self.status,
                "organisation_id": self.organisation_id}


_C = profiles_table.c


async def search_profiles(*, db: Database, identity: Identity, cursors: CursorCodec,
                          filters: SearchFilters, limit: int, cursor: str | None
                          ) -> bytes:
    _require(identity, READERS)
    fp = filters.as_dict()
    position = cursors.decode(cursor, "profiles", fp) if cursor else None
    now = utcnow()
    if filters.document is not None and filters.q is None and db.is_postgres:
        return await _by_document(db=db, identity=identity, cursors=cursors, filters=filters,
                                  limit=limit, after=str(position[0]) if position else None,
                                  now=now)
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        where: list[ColumnElement[bool]] = [_C.status == filters.status]
        if filters.region:
            where.append(_C.region == filters.region)
        if filters.organisation_id:
            where.append(_C.organisation_id == filters.organisation_id)
        items: list[dict[str, Any]]
        next_pos: list[Any] | None = None
        if filters.q is not None:
            key = search.normalise(filters.q) or ""
            where.append(repo.visible_exists(identity, now))
            candidates = await repo.name_candidates(query_key=key, where=where,
                                                    is_postgres=db.is_postgres)
            ranked = search.rank(key, candidates)
            if position is not None:
                ps, pid = float(position[0]), str(position[1])
                ranked = [(s, i) for s, i in ranked if (s < ps) or (s == ps and i > pid)]
            page = ranked[:limit]
            rows = await repo.summaries([i for _, i in page])
            items = [summary_dict(rows[i], s) for s, i in page if i in rows]
            if len(ranked) > limit and page:
                next_pos = [page[-1][0], page[-1][1]]
        else:
            after = str(position[0]) if position else None
            if filters.document is not None:
                where.append(repo.visible_exists(identity, now))
                found = await repo.by_document(
                    numbers=docs.search_variants(filters.document),
                    doc_type=filters.document_type, where=where, after=after,
                    limit=limit + 1)
            else:
                where.append(await _visible_where(repo, identity, now))
                found = await repo.list_page(where=where, after=after, limit=limit + 1)
            items = [summary_dict(r) for r in found[:limit]]
            if len(found) > limit:
                next_pos = [items[-1]["id"]]
        if items:
            await repo.add_audit([_audit(identity, it["id"], "search" if (
                filters.q or filters.document) else "list", SUMMARY_GROUPS, now)
                for it in items])
            await uow.commit()
    nxt = cursors.encode("profiles", fp, next_pos) if next_pos else None
    return dumps({"items": items, "next_cursor": nxt})


async def _by_document(*, db: Database, identity: Identity, cursors: CursorCodec,
                       filters: SearchFilters, limit: int, after: str | None, now: datetime
                       ) -> bytes:
    """Lookup by document on PostgreSQL: the page and its audit rows in one statement."""
    assert filters.document is not None
    async with db.statement() as conn:
        found = await by_document_audited(
            conn, numbers=docs.search_variants(filters.document),
            doc_type=filters.document_type, status=filters.status, region=filters.region,
            organisation_id=filters.organisation_id, identity=identity, after=after,
            limit=limit, audit=_audit(identity, "", "search", SUMMARY_GROUPS, now))
    items = [summary_dict(r) for r in found[:limit]]
    nxt = cursors.encode("profiles", filters.as_dict(), [items[-1]["id"]]) \
        if len(found) > limit else None
    return dumps({"items": items, "next_cursor": nxt})


# --- duplicates --------------------------------------------------------------------------
async def find_duplicates(*, db: Database, identity: Identity, profile_id: str) -> bytes:
    _require(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, _ = await _load(repo, identity, profile_id, now, owner_only=True)
        items = []
        if p.birth_date is not None:
            items = await _near_matches(repo, identity, now, birth=p.birth_date,
                                        nationality=p.nationality, key=p.search_key,
                                        exclude=p.id)
        await repo.add_audit([_audit(identity, p.id, "duplicates", ["identity"], now)] + [
            _audit(identity, c["id"], "search", SUMMARY_GROUPS, now) for c in items])
        await uow.commit()
    return dumps({"items": items})


# --- consents ----------------------------------------------------------------------------
async def list_consents(*, db: Database, identity: Identity, profile_id: str) -> bytes:
    _require(identity, READERS)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, access = await _load(repo, identity, profile_id, now, owner_only=False)
        consents = await repo.consents_of(p.id)
        if not access.owner:  # a recipient sees only the decisions about itself
            consents = [c for c in consents if c.recipient_organisation_id in (
                None, identity.organisation_id)]
        await repo.add_audit([_audit(identity, p.id, "read", ["consents"], now)])
        await uow.commit()
    return dumps({"items": [consent_dict(c, now) for c in consents], "next_cursor": None})


def _apply_opposition(p: Profile, consents: Sequence[Any], now: datetime) -> list[str]:
    stats, contact = _opposition(consents, now)
    changed = []
    if p.opt_out_statistics != stats:
        p.opt_out_statistics = stats
        changed.append("opt_out_statistics")
    if p.opt_out_contact != contact:
        p.opt_out_contact = contact
        changed.append("opt_out_contact")
    return changed


async def record_consent(*, db: Database, identity: Identity, profile_id: str, data: ConsentIn,
                         idempotency: IdempotencyKey | None = None) -> StoredResponse:
    _require(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        p, _ = await _load(repo, identity, profile_id, now, owner_only=True)
        row = _consent_row(p.id, data, identity, now)
        consent = Consent(**row)
        uow.session.add(consent)
        consents = [*await repo.consents_of(p.id), consent]
        changed = _apply_opposition(p, consents, now)
        if changed:
            p.updated_at = now
        await uow.session.flush()
        if changed:
            uow.emit(_event("profile.updated", p, {"changed_fields": changed}))
        if consent.status == ConsentStatus.GRANTED:
            uow.emit(_consent_event("consent.granted", p, consent))
        action = "consent_grant" if consent.status == ConsentStatus.GRANTED \
            else "consent_refuse"
        await repo.add_audit([_audit(identity, p.id, action, ["consents", *changed], now)])
        stored = await uow.remember(
            idempotency, status_code=201, body=dumps(consent_dict(consent, now)),
            headers={"ETag": etag(consent.version),
                     "Location": f"{_location(p.id)}/consents/{consent.id}"})
        await uow.commit()
        return stored


async def withdraw_consent(*, db: Database, identity: Identity, profile_id: str,
                           consent_id: str, expected: ExpectedVersion | None,
                           idempotency: IdempotencyKey | None = None) -> StoredResponse:
    """Withdrawal is always honoured (Ley 29733 art. 9): If-Match is checked when sent, never
    required. Withdrawing the consent that covers sensitive data erases that data."""
    _require(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProfileRepository(uow.session)
        p, _ = await _load(repo, identity, profile_id, now, owner_only=True)
        consent = await repo.consent(p.id, consent_id)
        if consent is None:
            raise ConsentNotFound()
        if expected is not None:
            expected.check(consent.version)
        if effective_status(consent, now) != ConsentStatus.GRANTED:
            raise ConsentNotGranted()
        consent.status = ConsentStatus.WITHDRAWN.value
        consent.withdrawn_at = now
        consent.withdrawn_by = identity.subject
        consents = await repo.consents_of(p.id)
        changed = _apply_opposition(p, consents, now)
        sensitive_erased = False
        if consent.sensitive_data and p.sensitive_ciphertext is not None \
                and not _covers_sensitive(consents, now):
            p.sensitive_ciphertext = None
            p.sensitive_key_id = None
            sensitive_erased = True
        if changed or sensitive_erased:
            p.updated_at = now
        await uow.session.flush()
        if changed:
            uow.emit(_event("profile.updated", p, {"changed_fields": changed}))
        uow.emit(_consent_event("consent.withdrawn", p, consent))
        await repo.add_audit([_audit(identity, p.id, "consent_withdraw",
                                     ["consents", *changed] + ["sensitive"] * sensitive_erased,
                                     now)])
        stored = await uow.remember(idempotency, status_code=200,
                                    body=dumps(consent_dict(consent, now)),
                                    headers={"ETag": etag(consent.version)})
        await uow.commit()
        return stored


async def check_consent(*, db: Database, identity: Identity, profile_id: str, purpose: str,
                        recipient: str | None, programme: str | None) -> dict[str, Any]:
    """May ``recipient`` receive this person's data for ``purpose``? Services ask this before
    sharing; a merged id is answered for the profile it was merged into."""
    if identity.role is not Role.SYSTEM:
        _require(identity, READERS)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p = await repo.get(profile_id)
        if p is not None and p.status == ProfileStatus.MERGED and p.merged_into:
            p = await repo.get(p.merged_into)
        if p is None or p.status != ProfileStatus.ACTIVE:
            raise ProfileNotFound()
        if identity.role is not Role.SYSTEM and await _access(repo, identity, p, now) is None:
            raise ProfileNotFound()
        consent = decide(await repo.consents_of(p.id), purpose, recipient, programme, now)
        if identity.role is not Role.SYSTEM:
            await repo.add_audit([_audit(identity, p.id, "consent_check", ["consents"], now)])
            await uow.commit()
    return {"profile_id": p.id, "purpose": purpose, "recipient": recipient,
            "granted": consent is not None, "consent_id": consent.id if consent else None}


# --- audit -------------------------------------------------------------------------------
async def read_audit(*, db: Database, identity: Identity, cursors: CursorCodec,
                     profile_id: str, limit: int, cursor: str | None) -> bytes:
    """Coordinators of the owning organisation read who did what (newest first), including
    the history of profiles merged into this one. Reading the audit is audited."""
    if identity.role in (Role.ADMIN, Role.MINISTRY_SYSTEM):
        raise NoProfileData()
    _require(identity, READERS)
    before = int(cursors.decode(cursor, "audit", {"p": profile_id})[0]) if cursor else None
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p = await repo.get(profile_id)
        if p is None:
            raise ProfileNotFound()
        access = await _access(repo, identity, p, now)
        if p.status == ProfileStatus.MERGED:
            await _check_status(repo, identity, p, access, now)
        if access is None:
            raise ProfileNotFound()
        if not access.owner:
            raise NotOwner()
        if identity.role is not Role.COORDINATOR:
            raise RoleNotAllowed(Text("Solo coordinadores leen la auditoría.",
                                      "Only coordinators read the audit log."))
        ids = [p.id, *await repo.merged_into(p.id)]
        rows = await repo.audit_page(ids, before, limit + 1)
        items = [_audit_dict(r) for r in rows[:limit]]
        await repo.add_audit([_audit(identity, p.id, "audit_read", [], now)])
        await uow.commit()
    nxt = cursors.encode("audit", {"p": profile_id}, [items[-1]["id"]]) \
        if len(rows) > limit else None
    return dumps({"items": items, "next_cursor": nxt})


def _audit_dict(r: Any) -> dict[str, Any]:
    return {"id": r.id, "profile_id": r.profile_id, "at": as_utc(r.at), "action": r.action,
            "actor_subject": r.actor_subject, "actor_role": r.actor_role,
            "actor_organisation_id": r.actor_organisation_id, "fields": list(r.fields or []),
            "request_id": r.request_id}


# --- statistics --------------------------------------------------------------------------
async def statistics(*, db: Database, identity: Identity, region: str | None,
                     country: str | None, organisation_id: str | None,
                     registered_from: date | None, registered_to: date | None
                     ) -> dict[str, Any]:
    """Non-identifying counts (no ids, no cross-tabulation) of active and cancelled people
    who did not oppose statistics. Coordinators count their organisation (and regions)."""
    if identity.role not in STATISTICS_ROLES:
        raise RoleNotAllowed()
    where: list[ColumnElement[bool]] = []
    if identity.role is Role.COORDINATOR:
        if identity.organisation_id is None:
            raise RoleNotAllowed()
        where.append(_C.organisation_id == identity.organisation_id)
        if identity.regions:
            where.append(_C.region.in_(sorted(identity.regions)))
    elif organisation_id:
        where.append(_C.organisation_id == organisation_id)
    if region:
        where.append(_C.region == region)
    if country:
        where.append(_C.country == country)
    if registered_from:
        where.append(_C.created_at >= datetime(registered_from.year, registered_from.month,
                                               registered_from.day, tzinfo=utcnow().tzinfo))
    if registered_to:
        end = registered_to.toordinal() + 1
        d = date.fromordinal(end)
        where.append(_C.created_at < datetime(d.year, d.month, d.day, tzinfo=utcnow().tzinfo))
    now = utcnow()
    async with db.uow() as uow:
        rows = await ProfileRepository(uow.session).statistics(where=where, today=now.date())
    out: dict[str, Any] = {"total": 0, "by_sex": {}, "by_age_band": {}, "by_nationality": {},
                           "by_population_type": {}, "by_region": {}, "by_status": {}}
    for r in rows:
        n = int(r.n)
        out["total"] += n
        for key, value in (("by_sex", r.sex), ("by_age_band", r.age_band or "unknown"),
                           ("by_nationality", r.nationality),
                           ("by_population_type", r.population_type),
                           ("by_region", r.region), ("by_status", r.status)):
            out[key][value] = out[key].get(value, 0) + n
    for key in ("by_sex", "by_age_band", "by_nationality", "by_population_type", "by_region",
                "by_status"):
        out[key] = dict(sorted(out[key].items()))
    out["generated_at"] = now
    return out


# --- export (ARCO access) ----------------------------------------------------------------
@dataclass
class RegistryExport:
    profile_id: str
    ids: list[str]
    body: dict[str, Any]
    sensitive_included: bool


async def export_ids(*, db: Database, identity: Identity, profile_id: str) -> list[str]:
    """Check the caller may export this person; the ids other services know them by."""
    _require(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, _ = await _load(repo, identity, profile_id, now, owner_only=True)
        return [p.id, *await repo.merged_into(p.id)]


async def export_registry(*, db: Database, identity: Identity, cipher: SensitiveCipher,
                          profile_id: str) -> RegistryExport:
    """What the registry holds on the person (sensitive data only for the owning organisation
    with ``sensitive:read``, and never for a partner's machine client)."""
    _require(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, access = await _load(repo, identity, profile_id, now, owner_only=True)
        include_sensitive = access.sensitive and identity.role is not Role.NGO_PARTNER
        documents = [document_dict(d) for d in await repo.documents_of([p.id])]
        profile = profile_dict(p, documents, sensitive=_decrypt(cipher, p)
                               if include_sensitive else None,
                               include_sensitive=include_sensitive)
        merged = await repo.merged_into(p.id)
        ids = [p.id, *merged]
        consents = [consent_dict(c, now) for c in await repo.consents_of(p.id)]
        access_log = [_audit_dict(r) for r in await repo.audit_all(ids)]
        groups = [*READ_GROUPS, "consents", "audit"] + ["sensitive"] * include_sensitive
        await repo.add_audit([_audit(identity, p.id, "export", groups, now)])
        await uow.commit()
    return RegistryExport(p.id, ids, {"profile": profile, "consents": consents,
                                      "merged_profile_ids": merged, "access_log": access_log},
                          include_sensitive)

