"""Referrals use cases. Each opens its own unit of work and commits once: the change, its
history, its outbox events and its idempotency record are stored together or not at all.

Who may do what (object-level; the gateway checks roles per route first):

* ``caseworker``, ``coordinator``, ``ngo_partner`` make referrals and pathways for people the
  registry lets them see, only with the person's consent to share with the provider; they
  read and cancel the referrals they or their organisation made (in their regions) and
  resume or cancel their organisation's pathways;
* ``provider`` reads the referrals addressed to its organisation (and the pathways that
  contain one) and accepts, rejects, starts, holds, resumes, completes or fails them;
* ``ministry_system`` of the provider's organisation does the same (signed inbound
  callbacks arrive with this identity and ``If-Match: *``);
* ``admin`` edits the catalogue and reads no referral data (403);
* ``system`` (this service's own event handlers) acts on any referral.

A referral or pathway outside the caller's scope is 404, never 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from services.referrals.catalogue import PROGRAMMES, PROVIDERS
from services.referrals.clients import (
    SYSTEM,
    ConsentAnswer,
    Credentials,
    Registry,
    facts_of,
)
from services.referrals.lifecycle import (
    ACTION_RULES,
    OPEN,
    WALK_TO_COMPLETED,
    Action,
    Side,
    Status,
)
from services.referrals.models import Pathway, PathwayStep, Programme, Provider, Referral
from services.referrals.outcomes import DEFAULT_OUTCOME, RecognitionOutcome, pseudonymise
from services.referrals.pathways import (
    LIVE,
    PathwayAction,
    PathwayStatus,
    StepStatus,
    TemplateSet,
    choose_provider,
)
from services.referrals.repository import (
    PathwayRepository,
    ProgrammeRepository,
    ProviderRepository,
    ProviderRow,
    ReferralFilters,
    ReferralRepository,
)
from services.referrals.rules import ProgrammeInfo, RuleSet, recommend
from services.referrals.schemas import (
    FindingOut,
    HistoryOut,
    PathwayCreate,
    PathwayOut,
    PathwayTransitionIn,
    ProgrammeCreate,
    ProgrammeOut,
    ProgrammeRef,
    ProgrammeUpdate,
    ProviderCreate,
    ProviderOut,
    ProviderUpdate,
    RecommendationOut,
    RecommendationsOut,
    ReferralCreate,
    ReferralOut,
    StepOut,
    TemplateOut,
    TemplatesOut,
    TemplateStepOut,
    TransitionIn,
    TransitionOut,
)
from services.referrals.workflow import (
    REFERRAL_PURPOSE,
    ConsentCheck,
    active_key,
    apply_transition,
    cancel_pathway,
    new_referral,
    open_key,
    open_referral,
    open_step,
    pathway_event,
    referral_dict,
)
from shared.authz import CASELOAD_ROLES, in_scope
from shared.clock import as_utc, utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.i18n import Text, current_language
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Role
from shared.models import new_id
from shared.outbox import EventEnvelope
from shared.pagination import CursorCodec, Page
from shared.peers import Peers
from shared.regions import country_of

log = structlog.get_logger("ruta.referrals")

NO_STORE = {"Cache-Control": "no-store"}


# --- problems -------------------------------------------------------------------------------
class ReferralNotFound(NotFound):
    code = "referral-not-found"
    detail_text = Text("La derivación no existe o no está a su alcance.",
                       "The referral does not exist or is outside your scope.")


class PathwayNotFound(NotFound):
    code = "pathway-not-found"
    detail_text = Text("La ruta no existe o no está a su alcance.",
                       "The pathway does not exist or is outside your scope.")


class ProgrammeNotFound(NotFound):
    code = "programme-not-found"
    detail_text = Text("El programa no existe.", "The programme does not exist.")


class ProviderNotFound(NotFound):
    code = "provider-not-found"
    detail_text = Text("El proveedor no existe.", "The provider does not exist.")


class ProfileNotFound(NotFound):
    code = "profile-not-found"
    detail_text = Text("El perfil no existe o no está a su alcance.",
                       "The profile does not exist or is outside your scope.")


class NoReferralData(Forbidden):
    code = "no-referral-data"
    detail_text = Text("Su rol no accede a datos de derivaciones.",
                       "Your role does not access referral data.")


class RoleNotAllowed(Forbidden):
    code = "role-not-allowed"


class ActionNotForRole(Forbidden):
    code = "action-not-allowed-for-role"
    detail_text = Text("Su rol no permite la acción «{action}» en esta derivación.",
                       "Your role does not allow the action '{action}' on this referral.")


class ConsentMissing(Conflict):
    code = "consent-required"
    detail_text = Text(
        "La persona no ha consentido compartir sus datos con «{recipient}» para una "
        "derivación (consentimiento de finalidad «referral» que nombre a esa organización "
        "receptora).",
        "The person has not consented to sharing their data with '{recipient}' for a "
        "referral (a consent for purpose 'referral' naming that recipient).")

    def __init__(self, recipient: str, programme: str) -> None:
        super().__init__(recipient=recipient, extra={"missing_consent": {
            "purpose": REFERRAL_PURPOSE, "recipient_organisation_id": recipient,
            "programme_id": programme}})


class ReferralAlreadyOpen(Conflict):
    code = "referral-already-open"
    detail_text = Text("La persona ya tiene una derivación abierta a este programa.",
                       "The person already has an open referral to this programme.")


class ProviderAtCapacity(Conflict):
    code = "provider-at-capacity"
    detail_text = Text("El proveedor no tiene cupos: {open} derivaciones abiertas de "
                       "{capacity}.",
                       "The provider is at capacity: {open} open referrals of {capacity}.")


class PathwayAlreadyLive(Conflict):
    code = "pathway-already-active"
    detail_text = Text("La persona ya tiene una ruta de este tipo en curso.",
                       "The person already has a pathway of this kind under way.")


class PathwayNotResumable(Conflict):
    code = "pathway-not-on-hold"
    detail_text = Text("Solo una ruta en espera puede reanudarse; su estado es «{status}».",
                       "Only a pathway on hold can be resumed; its state is '{status}'.")


class PathwayClosed(Conflict):
    code = "pathway-closed"
    detail_text = Text("La ruta ya terminó (estado «{status}»).",
                       "The pathway has ended (state '{status}').")


class StepNotOpened(Conflict):
    code = "step-not-opened"
    detail_text = Text("No se pudo abrir el paso: {why}.", "The step could not be opened: "
                                                           "{why}.")


class AlreadyExists(Conflict):
    code = "already-exists"
    detail_text = Text("Ya existe un elemento con el identificador «{id}».",
                       "An item with id '{id}' already exists.")


class ConcurrentWrite(Conflict):
    code = "concurrent-write"
    detail_text = Text("Otra solicitud modificó lo mismo a la vez; vuelva a leer y reintente.",
                       "Another request changed the same thing meanwhile; read again and "
                       "retry.")


_PROFILE_FIELD = Text("Perfil no encontrado o fuera de su alcance",
                      "Profile not found or outside your scope")


# --- helpers -------------------------------------------------------------------------------
def dumps(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def _require_admin(identity: Identity) -> None:
    if identity.role is not Role.ADMIN:
        raise RoleNotAllowed(Text("Solo un administrador edita el catálogo.",
                                  "Only an administrator edits the catalogue."))


def _require_caseload(identity: Identity) -> None:
    if identity.role is Role.ADMIN:
        raise NoReferralData()
    if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
        raise RoleNotAllowed()


def _require_reader(identity: Identity) -> None:
    if identity.role is Role.ADMIN:
        raise NoReferralData()


def can_see(identity: Identity, r: Referral) -> bool:
    """The referrals a caller may see (the same rule as ``repository.scope_clause``)."""
    if identity.role is Role.SYSTEM:
        return True
    if identity.role in CASELOAD_ROLES:
        owner = r.referring_organisation_id
    elif identity.role in (Role.PROVIDER, Role.MINISTRY_SYSTEM):
        owner = r.provider_organisation_id
    else:
        return False
    return in_scope(identity, organisation_id=owner, region=r.region)


def may_act(identity: Identity, action: Action) -> bool:
    side = ACTION_RULES[action].side
    if identity.role is Role.SYSTEM:
        return True
    if side is Side.PROVIDER:
        return identity.role in (Role.PROVIDER, Role.MINISTRY_SYSTEM)
    return identity.role in CASELOAD_ROLES


def consent_check(peers: Peers, identity: Identity) -> ConsentCheck:
    """Asks the registry, as ``identity``, whether the person consented to share with the
    provider's organisation for a referral (to this programme)."""
    registry = Registry(peers)

    async def check(profile_id: str, recipient: str, programme: str) -> ConsentAnswer | None:
        return await registry.consent(identity, profile_id, recipient=recipient,
                                      programme=programme)

    return check


def _decode_position(cursors: CursorCodec, cursor: str | None, name: str,
                     filters: dict[str, Any]) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    position = cursors.decode(cursor, name, filters)
    try:
        at, ident = position
        return datetime.fromisoformat(str(at)), str(ident)
    except (ValueError, TypeError):
        from shared.errors import InvalidCursor

        raise InvalidCursor() from None


def _encode_position(cursors: CursorCodec, name: str, filters: dict[str, Any],
                     created_at: datetime, ident: str) -> str:
    return cursors.encode(name, filters, [as_utc(created_at).isoformat(), ident])


async def _commit(uow: UnitOfWork) -> None:
    try:
        await uow.commit()
    except IntegrityError:
        raise ConcurrentWrite() from None


# --- catalogue: programmes ---------------------------------------------------------------------
def _programme_out(p: Programme) -> ProgrammeOut:
    return ProgrammeOut.model_validate(p)


async def list_programmes(
    *, db: Database, identity: Identity, cursors: CursorCodec, country: str | None,
    route_type: str | None, limit: int, cursor: str | None, region: str | None = None,
    include_inactive: bool = False,
) -> Page[ProgrammeOut]:
    filters = {"country": country, "route_type": route_type, "region": region,
               "include_inactive": include_inactive or None}
    after = str(cursors.decode(cursor, "programmes", filters)[0]) if cursor else None
    async with db.uow() as uow:
        rows = await ProgrammeRepository(uow.session).find(
            country=country, route_type=route_type, region=region,
            include_inactive=include_inactive, after=after, limit=limit + 1)
        items = [_programme_out(p) for p in rows[:limit]]
    nxt = cursors.encode("programmes", filters, [items[-1].id]) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


async def get_programme(*, db: Database, programme_id: str) -> ProgrammeOut:
    async with db.uow() as uow:
        p = await ProgrammeRepository(uow.session).get(programme_id)
        if p is None:
            raise ProgrammeNotFound()
        return _programme_out(p)


async def create_programme(*, db: Database, identity: Identity, data: ProgrammeCreate,
                           idempotency: IdempotencyKey | None = None) -> StoredResponse:
    _require_admin(identity)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProgrammeRepository(uow.session)
        if await repo.get(data.id) is not None:
            raise AlreadyExists(id=data.id)
        p = Programme(
            id=data.id, name=data.name, name_en=data.name_en, route_type=data.route_type.value,
            country=data.country.value, regions=list(data.regions), operator=data.operator,
            outcome_kind=(data.outcome_kind or DEFAULT_OUTCOME[data.route_type.value]).value,
            description=data.description, description_en=data.description_en,
            active=data.active, created_at=now, updated_at=now)
        repo.add(p)
        await uow.session.flush()
        out = _programme_out(p)
        stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
            "ETag": etag(out.version), "Location": f"/v1/programs/{p.id}"})
        await _commit(uow)
        return stored


async def update_programme(*, db: Database, identity: Identity, programme_id: str,
                           data: ProgrammeUpdate, expected: ExpectedVersion) -> ProgrammeOut:
    _require_admin(identity)
    async with db.uow() as uow:
        p = await ProgrammeRepository(uow.session).get(programme_id)
        if p is None:
            raise ProgrammeNotFound()
        expected.check(p.version)
        changes = data.model_dump(exclude_unset=True, mode="json")
        if "regions" in changes and any(country_of(r) != p.country for r in changes["regions"]):
            raise ValidationFailed([("regions", Text(
                "Todas las regiones deben ser del país del programa",
                "Every region must be in the programme's country"))])
        for name, value in changes.items():
            setattr(p, name, value)
        p.updated_at = utcnow()
        await uow.session.flush()
        out = _programme_out(p)
        await _commit(uow)
        return out


# --- catalogue: providers ----------------------------------------------------------------------
def _provider_out(row: ProviderRow) -> ProviderOut:
    p = row.provider
    return ProviderOut(
        id=p.id, organisation_id=p.organisation_id, name=p.name, country=p.country,
        regions=list(p.regions or []), sla_accept_days=p.sla_accept_days,
        sla_complete_days=p.sla_complete_days, sla_working_days=p.sla_working_days,
        required_documents=list(p.required_documents or []), capacity=p.capacity,
        programme_ids=row.programme_ids, active=p.active, version=p.version,
        created_at=p.created_at, updated_at=p.updated_at)


async def list_providers(
    *, db: Database, cursors: CursorCodec, country: str | None, programme_id: str | None,
    region: str | None, organisation_id: str | None, include_inactive: bool, limit: int,
    cursor: str | None,
) -> Page[ProviderOut]:
    filters = {"country": country, "programme_id": programme_id, "region": region,
               "organisation_id": organisation_id, "include_inactive": include_inactive or None}
    after = str(cursors.decode(cursor, "providers", filters)[0]) if cursor else None
    async with db.uow() as uow:
        rows = await ProviderRepository(uow.session).find(
            country=country, programme_id=programme_id, region=region,
            organisation_id=organisation_id, include_inactive=include_inactive, after=after,
            limit=limit + 1)
        items = [_provider_out(r) for r in rows[:limit]]
    nxt = cursors.encode("providers", filters, [items[-1].id]) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


async def get_provider(*, db: Database, provider_id: str) -> ProviderOut:
    async with db.uow() as uow:
        repo = ProviderRepository(uow.session)
        p = await repo.get(provider_id)
        if p is None:
            raise ProviderNotFound()
        return _provider_out(ProviderRow(p, (await repo.programme_ids([p.id]))[p.id]))


async def _check_programmes(uow: UnitOfWork, country: str, programme_ids: Sequence[str]
                            ) -> None:
    repo = ProgrammeRepository(uow.session)
    errors: list[tuple[str, Text]] = []
    for i, pid in enumerate(programme_ids):
        p = await repo.get(pid)
        if p is None:
            errors.append((f"programme_ids[{i}]", Text("Programa desconocido",
                                                      "Unknown programme")))
        elif p.country != country:
            errors.append((f"programme_ids[{i}]", Text("Programa de otro país",
                                                      "Programme of another country")))
    if errors:
        raise ValidationFailed(errors)


async def create_provider(*, db: Database, identity: Identity, data: ProviderCreate,
                          idempotency: IdempotencyKey | None = None) -> StoredResponse:
    _require_admin(identity)
    now = utcnow()
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = ProviderRepository(uow.session)
        if await repo.get(data.id) is not None:
            raise AlreadyExists(id=data.id)
        await _check_programmes(uow, data.country.value, data.programme_ids)
        p = Provider(
            id=data.id, organisation_id=data.organisation_id, name=data.name,
            country=data.country.value, regions=list(data.regions),
            sla_accept_days=data.sla_accept_days, sla_complete_days=data.sla_complete_days,
            sla_working_days=data.sla_working_days,
            required_documents=list(data.required_documents), capacity=data.capacity,
            active=data.active, created_at=now, updated_at=now)
        repo.add(p)
        await uow.session.flush()
        await repo.set_programmes(p.id, data.programme_ids)
        await uow.session.flush()
        out = _provider_out(ProviderRow(p, sorted(data.programme_ids)))
        stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
            "ETag": etag(out.version), "Location": f"/v1/providers/{p.id}"})
        await _commit(uow)
        return stored


async def update_provider(*, db: Database, identity: Identity, provider_id: str,
                          data: ProviderUpdate, expected: ExpectedVersion) -> ProviderOut:
    _require_admin(identity)
    async with db.uow() as uow:
        repo = ProviderRepository(uow.session)
        p = await repo.get(provider_id)
        if p is None:
            raise ProviderNotFound()
        expected.check(p.version)
        changes = data.model_dump(exclude_unset=True, mode="json")
        if "regions" in changes and any(country_of(r) != p.country for r in changes["regions"]):
            raise ValidationFailed([("regions", Text(
                "Todas las regiones deben ser del país del proveedor",
                "Every region must be in the provider's country"))])
        programme_ids = changes.pop("programme_ids", None)
        if programme_ids is not None:
            await _check_programmes(uow, p.country, programme_ids)
            await repo.set_programmes(p.id, programme_ids)
        for name, value in changes.items():
            setattr(p, name, value)
        p.updated_at = utcnow()  # bumps the version even when only programmes changed
        await uow.session.flush()
        out = _provider_out(ProviderRow(p, (await repo.programme_ids([p.id]))[p.id]))
        await _commit(uow)
        return out


async def seed_catalogue(*, db: Database) -> int:
    """Insert the reference programmes and providers that are missing; never overwrite an
    admin's edits. Returns how many programmes were added (providers are logged)."""
    async with db.uow() as uow:
        programmes = ProgrammeRepository(uow.session)
        providers = ProviderRepository(uow.session)
        have = await programmes.existing_ids()
        added = providers_added = 0
        now = utcnow()
        for item in PROGRAMMES:
            if item["id"] not in have:
                outcome = item.get("outcome_kind") or DEFAULT_OUTCOME[item["route_type"]].value
                programmes.add(Programme(**{**item, "outcome_kind": outcome},
                                         created_at=now, updated_at=now))
                added += 1
        await uow.session.flush()
        have_providers = await providers.existing_ids()
        for item in PROVIDERS:
            if item["id"] in have_providers:
                continue
            fields = {k: v for k, v in item.items() if k != "programme_ids"}
            providers.add(Provider(**fields, created_at=now, updated_at=now))
            await uow.session.flush()
            await providers.set_programmes(item["id"], item["programme_ids"])
            providers_added += 1
        await uow.commit()
    if providers_added:
        log.info("catalogue_providers_added", count=providers_added)
    return added


# --- recommendations ---------------------------------------------------------------------------
async def recommendations(*, db: Database, peers: Peers, identity: Identity, rules: RuleSet,
                          profile_id: str, today: date | None = None) -> RecommendationsOut:
    """Which routes fit this person, in order, with reasons and missing requirements. The
    person is read from the registry and their credentials from the credentials service, as
    the caller: what the caller may not see is not found."""
    _require_caseload(identity)
    profile = await Registry(peers).profile(identity, profile_id, gone_as_absent=False)
    if profile is None:
        raise ProfileNotFound()
    credentials = await Credentials(peers).of_profile(identity, profile_id)
    country = country_of(str(profile["region"]))
    async with db.uow() as uow:
        statuses = await ReferralRepository(uow.session).statuses_by_programme(profile_id)
        programmes = {p.id: p for p in await ProgrammeRepository(uow.session).all()}
        serving = await ProviderRepository(uow.session).active_serving(country)
    now = utcnow()
    facts = facts_of(profile, credentials, statuses, today or now.date())
    infos = {p.id: ProgrammeInfo(p.id, p.country, list(p.regions or []), p.active)
             for p in programmes.values()}
    lang = current_language()
    items = []
    for order, rec in enumerate(recommend(rules, facts, infos), start=1):
        p = programmes[rec.programme_id]
        items.append(RecommendationOut(
            order=order,
            programme=ProgrammeRef(id=p.id, name=p.name_en if lang == "en" else p.name,
                                   route_type=p.route_type, country=p.country),
            relevant=rec.relevant, eligible=rec.eligible, score=rec.score,
            reasons=[FindingOut(code=f.code, message=f.text.render(lang)) for f in rec.reasons],
            missing=[FindingOut(code=f.code, message=f.text.render(lang)) for f in rec.missing],
            referral_status=rec.referral_status,
            provider_ids=[row.provider.id for row in serving
                          if p.id in row.programme_ids
                          and facts.region in (row.provider.regions or [])]))
    return RecommendationsOut(profile_id=profile_id, rules_version=rules.version,
                              generated_at=now, items=items)


# --- referrals -----------------------------------------------------------------------------
def _referral_out(r: Referral, now: datetime) -> ReferralOut:
    return ReferralOut.model_validate(referral_dict(r, now))


async def _load_route(uow: UnitOfWork, programme_id: str, provider_id: str, region: str
                      ) -> tuple[Programme, Provider]:
    programme = await ProgrammeRepository(uow.session).get(programme_id)
    providers = ProviderRepository(uow.session)
    provider = await providers.get(provider_id)
    errors: list[tuple[str, Text]] = []
    if programme is None or not programme.active:
        errors.append(("programme_id", Text("Programa desconocido o inactivo",
                                            "Unknown or inactive programme")))
    if provider is None or not provider.active:
        errors.append(("provider_id", Text("Proveedor desconocido o inactivo",
                                           "Unknown or inactive provider")))
    if errors:
        raise ValidationFailed(errors)
    assert programme is not None and provider is not None
    if programme.id not in (await providers.programme_ids([provider.id]))[provider.id]:
        raise ValidationFailed([("provider_id", Text(
            "El proveedor no ofrece este programa", "The provider does not deliver this "
                                                    "programme"))])
    if region not in (provider.regions or []):
        raise ValidationFailed([("provider_id", Text(
            "El proveedor no atiende la región de la persona",
            "The provider does not serve the person's region"))])
    return programme, provider


async def create_referral(*, db: Database, peers: Peers, identity: Identity,
                          data: ReferralCreate, idempotency: IdempotencyKey | None = None
                          ) -> StoredResponse:
    _require_caseload(identity)
    assert identity.organisation_id is not None
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        registry = Registry(peers)
        profile = await registry.profile(identity, data.profile_id)
        if profile is None:
            raise ValidationFailed([("profile_id", _PROFILE_FIELD)])
        region = str(profile["region"])
        programme, provider = await _load_route(uow, data.programme_id, data.provider_id,
                                                region)
        answer = await registry.consent(identity, data.profile_id,
                                        recipient=provider.organisation_id,
                                        programme=programme.id)
        if answer is None:
            raise ValidationFailed([("profile_id", _PROFILE_FIELD)])
        if not answer.granted:
            raise ConsentMissing(provider.organisation_id, programme.id)
        repo = ReferralRepository(uow.session)
        existing = await repo.open_for(data.profile_id, programme.id)
        if existing is not None:
            raise ReferralAlreadyOpen(extra={"existing_referral_id": existing.id}
                                      if can_see(identity, existing) else None)
        if provider.capacity is not None:
            # one referral at a time per limited provider (PostgreSQL row lock; SQLite has
            # one writer): the count below cannot be overtaken
            await ProviderRepository(uow.session).get(provider.id, for_update=True)
            taken = await repo.open_count(provider.id)
            if taken >= provider.capacity:
                raise ProviderAtCapacity(open=taken, capacity=provider.capacity)
        now = utcnow()
        r = new_referral(
            profile_id=data.profile_id, profile_organisation_id=str(profile["organisation_id"]),
            region=region, programme=programme, provider=provider,
            referring_organisation_id=identity.organisation_id,
            referring_subject=identity.subject, notes=data.notes,
            credential_id=data.credential_id, consent_id=answer.consent_id, now=now)
        try:
            await open_referral(uow, r, identity, now)
        except IntegrityError:
            raise ReferralAlreadyOpen() from None
        out = _referral_out(r, now)
        stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
            "ETag": etag(r.version), "Location": f"/v1/referrals/{r.id}", **NO_STORE})
        await _commit(uow)
        return stored


async def list_referrals(*, db: Database, identity: Identity, cursors: CursorCodec,
                         filters: ReferralFilters, limit: int, cursor: str | None
                         ) -> Page[ReferralOut]:
    _require_reader(identity)
    key = filters.as_dict()
    after = _decode_position(cursors, cursor, "referrals", key)
    now = utcnow()
    async with db.uow() as uow:
        rows = await ReferralRepository(uow.session).find(
            identity=identity, filters=filters, now=now, after=after, limit=limit + 1)
        items = [_referral_out(r, now) for r in rows[:limit]]
    nxt = (_encode_position(cursors, "referrals", key, rows[limit - 1].created_at,
                            rows[limit - 1].id) if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def _visible(uow: UnitOfWork, identity: Identity, referral_id: str) -> Referral:
    r = await ReferralRepository(uow.session).get(referral_id)
    if r is None or not can_see(identity, r):
        raise ReferralNotFound()
    return r


async def get_referral(*, db: Database, identity: Identity, referral_id: str) -> ReferralOut:
    _require_reader(identity)
    async with db.uow() as uow:
        return _referral_out(await _visible(uow, identity, referral_id), utcnow())


async def referral_history(*, db: Database, identity: Identity, referral_id: str
                           ) -> HistoryOut:
    _require_reader(identity)
    async with db.uow() as uow:
        r = await _visible(uow, identity, referral_id)
        rows = await ReferralRepository(uow.session).history(r.id)
        return HistoryOut(referral_id=r.id,
                          items=[TransitionOut.model_validate(t) for t in rows])


async def transition_referral(
    *, db: Database, peers: Peers, identity: Identity, referral_id: str, data: TransitionIn,
    expected: ExpectedVersion, idempotency: IdempotencyKey | None = None,
) -> StoredResponse:
    """Move a referral along its lifecycle: who may (404 out of scope, 403 for a role that
    never may), with the version read (412), from a state that allows it (409). Completing
    or closing a pathway step carries the pathway forward in the same transaction."""
    _require_reader(identity)
    action = data.action
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        r = await _visible(uow, identity, referral_id)
        if not may_act(identity, action):
            raise ActionNotForRole(action=action.value)
        expected.check(r.version)
        outcome = data.outcome.model_dump(mode="json") if data.outcome is not None else None
        if outcome is not None and outcome["type"] != r.outcome_kind:
            raise ValidationFailed([("outcome.type", Text(
                "Este programa registra un resultado de tipo «{kind}»",
                "This programme records an outcome of type '{kind}'"))], kind=r.outcome_kind)
        now = utcnow()
        try:
            await apply_transition(
                uow, r, action, identity, now=now, consents=consent_check(peers, SYSTEM),
                reason=data.reason, reason_code=data.reason_code.value if data.reason_code
                else None, outcome=outcome)
        except IntegrityError:  # the next step's referral raced another one
            raise ConcurrentWrite() from None
        out = _referral_out(r, now)
        stored = await uow.remember(idempotency, status_code=200, body=dumps(out),
                                    headers={"ETag": etag(r.version), **NO_STORE})
        await _commit(uow)
    log.info("referral_transition", referral_id=referral_id, action=action.value,
             to=out.status.value, actor_role=identity.role.value)
    return stored


# --- pathways ------------------------------------------------------------------------------
async def _pathway_out(uow: UnitOfWork, p: Pathway, steps: list[PathwayStep] | None = None
                       ) -> PathwayOut:
    repo = PathwayRepository(uow.session)
    steps = steps if steps is not None else await repo.steps(p.id)
    statuses = await repo.referral_statuses([s.referral_id for s in steps if s.referral_id])
    return PathwayOut(
        id=p.id, profile_id=p.profile_id, template=p.template,
        template_version=p.template_version, status=PathwayStatus(p.status),
        current_step=p.current_step, organisation_id=p.organisation_id, region=p.region,
        credential_id=p.credential_id, held_reason=p.held_reason,
        steps=[StepOut(position=s.position, programme_id=s.programme_id,
                       provider_id=s.provider_id,
                       provider_organisation_id=s.provider_organisation_id,
                       status=StepStatus(s.status), referral_id=s.referral_id,
                       referral_status=Status(statuses[s.referral_id])
                       if s.referral_id in statuses else None,
                       attempts=s.attempts or 0, completed_at=s.completed_at)
               for s in steps],
        version=p.version, created_at=p.created_at, updated_at=p.updated_at,
        completed_at=p.completed_at)


def templates_out(templates: TemplateSet) -> TemplatesOut:
    lang = current_language()
    return TemplatesOut(version=templates.version, items=[
        TemplateOut(id=t.id, country=t.country, name=t.name.en if lang == "en" else t.name.es,
                    steps=[TemplateStepOut(programme_id=s.programme, providers=s.providers,
                                           recognition=s.recognition) for s in t.steps])
        for t in templates.templates])


def _pick_degree(credentials: list[dict[str, Any]], fields: Sequence[str], country: str
                 ) -> str | None:
    """The person's foreign degree a recognition step is about (most advanced first)."""
    order = {"verified_with_issuer": 0, "apostilled": 1, "document_seen": 2,
             "self_declared": 3}
    candidates = []
    for c in credentials:
        issuer = c.get("issuer")
        issuer = issuer if isinstance(issuer, dict) else {}
        field = c.get("field_isced") or ""
        if (c.get("kind") == "academic_degree" and c.get("status") in order
                and issuer.get("country") != country
                and (not fields or any(str(field).startswith(f) for f in fields))):
            candidates.append((order[str(c["status"])], str(c.get("id"))))
    return min(candidates)[1] if candidates else None


_BLOCKED: dict[str, Text] = {
    "no_provider": Text("ningún proveedor activo atiende la región de la persona",
                        "no active provider serves the person's region"),
    "referral_already_open": Text("la persona ya tiene una derivación abierta a ese programa",
                                  "the person already has an open referral to that "
                                  "programme"),
}


def _raise_blocked(blocked: dict[str, Any]) -> None:
    if blocked["code"] == "consent_missing":
        raise ConsentMissing(blocked["recipient_organisation_id"], blocked["programme_id"])
    raise StepNotOpened(why=_BLOCKED[blocked["code"]], extra={"held_reason": blocked})


async def create_pathway(*, db: Database, peers: Peers, identity: Identity,
                         templates: TemplateSet, data: PathwayCreate,
                         idempotency: IdempotencyKey | None = None) -> StoredResponse:
    _require_caseload(identity)
    assert identity.organisation_id is not None
    template = templates.get(data.template)
    if template is None:
        raise ValidationFailed([("template", Text("Plantilla desconocida (vea GET "
                                                  "/v1/pathways/templates)",
                                                  "Unknown template (see GET "
                                                  "/v1/pathways/templates)"))])
    unknown = [k for k in data.providers if k not in {s.programme for s in template.steps}]
    if unknown:
        raise ValidationFailed([(f"providers.{k}", Text("Programa que no es un paso de la "
                                                       "plantilla",
                                                       "Not a programme of the template"))
                                for k in unknown])
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        profile = await Registry(peers).profile(identity, data.profile_id)
        if profile is None:
            raise ValidationFailed([("profile_id", _PROFILE_FIELD)])
        region = str(profile["region"])
        if country_of(region) != template.country:
            raise ValidationFailed([("template", Text(
                "La plantilla es de otro país que la región de la persona",
                "The template is for another country than the person's region"))])
        serving = {row.provider.id: (list(row.provider.regions or []), row)
                   for row in await ProviderRepository(uow.session).active_serving(
                       template.country)}
        chosen: list[tuple[str, Provider]] = []
        errors: list[tuple[str, Text]] = []
        for step in template.steps:
            wanted = data.providers.get(step.programme)
            if wanted is not None:
                hit = serving.get(wanted)
                ok = hit is not None and step.programme in hit[1].programme_ids \
                    and region in hit[0]
                provider_id = wanted if ok else None
            else:
                provider_id = choose_provider(step.providers,
                                              {k: v[0] for k, v in serving.items()}, region)
            if provider_id is None:
                errors.append((f"providers.{step.programme}", Text(
                    "Ningún proveedor activo de este paso atiende la región de la persona",
                    "No active provider of this step serves the person's region")))
            else:
                chosen.append((step.programme, serving[provider_id][1].provider))
        if errors:
            raise ValidationFailed(errors)
        live = [p for p in await PathwayRepository(uow.session).live_of_profile(data.profile_id)
                if p.template == template.id]
        if live:
            raise PathwayAlreadyLive(extra={"pathway_id": live[0].id}
                                     if live[0].organisation_id == identity.organisation_id
                                     else None)
        credential_id = data.credential_id
        if credential_id is None and any(s.recognition for s in template.steps):
            credential_id = _pick_degree(
                await Credentials(peers).of_profile(identity, data.profile_id),
                template.degree_fields_isced, template.country)
        now = utcnow()
        pathway = Pathway(
            id=new_id(), profile_id=data.profile_id,
            profile_organisation_id=str(profile["organisation_id"]), region=region,
            template=template.id, template_version=templates.version,
            status=PathwayStatus.ACTIVE.value,
            active_key=active_key(data.profile_id, template.id), current_step=0,
            organisation_id=identity.organisation_id, created_by=identity.subject,
            credential_id=credential_id, held_reason=None, created_at=now, updated_at=now,
            version=1)
        repo = PathwayRepository(uow.session)
        repo.add(pathway)
        steps = [PathwayStep(pathway_id=pathway.id, position=i, programme_id=programme_id,
                             provider_id=provider.id,
                             provider_organisation_id=provider.organisation_id,
                             status=StepStatus.PENDING.value, attempts=0)
                 for i, (programme_id, provider) in enumerate(chosen)]
        for s in steps:
            repo.add_step(s)
        try:
            await uow.session.flush()
            blocked = await open_step(uow, pathway, steps[0], identity, now=now,
                                      consents=consent_check(peers, identity),
                                      notes=data.notes)
        except IntegrityError:  # a concurrent request started the same pathway
            raise PathwayAlreadyLive() from None
        if blocked is not None:
            _raise_blocked(blocked)
        await uow.session.flush()
        uow.emit(pathway_event("pathway.advanced", pathway, {
            "from_step": None, "to_step": 0, "status": pathway.status,
            "referral_id": steps[0].referral_id}, (steps[0].provider_organisation_id,)))
        out = await _pathway_out(uow, pathway, steps)
        stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
            "ETag": etag(pathway.version), "Location": f"/v1/pathways/{pathway.id}",
            **NO_STORE})
        await _commit(uow)
        return stored


def _pathway_visible(identity: Identity, p: Pathway, steps: list[PathwayStep]) -> bool:
    if identity.role is Role.SYSTEM:
        return True
    if identity.role in CASELOAD_ROLES:
        return in_scope(identity, organisation_id=p.organisation_id, region=p.region)
    if identity.role is Role.PROVIDER:
        org = identity.organisation_id
        return any(s.provider_organisation_id == org and s.referral_id is not None
                   for s in steps) and in_scope(
            identity, organisation_id=org, region=p.region)
    return False


async def get_pathway(*, db: Database, identity: Identity, pathway_id: str) -> PathwayOut:
    _require_reader(identity)
    async with db.uow() as uow:
        p = await PathwayRepository(uow.session).get(pathway_id)
        steps = await PathwayRepository(uow.session).steps(pathway_id) if p else []
        if p is None or not _pathway_visible(identity, p, steps):
            raise PathwayNotFound()
        return await _pathway_out(uow, p, steps)


async def list_pathways(*, db: Database, identity: Identity, cursors: CursorCodec,
                        profile_id: str | None, status: str | None, template: str | None,
                        limit: int, cursor: str | None) -> Page[PathwayOut]:
    _require_reader(identity)
    key = {"profile_id": profile_id, "status": status, "template": template}
    after = _decode_position(cursors, cursor, "pathways", key)
    async with db.uow() as uow:
        repo = PathwayRepository(uow.session)
        rows = await repo.find(identity=identity, profile_id=profile_id, status=status,
                               template=template, after=after, limit=limit + 1)
        steps = await repo.steps_of([p.id for p in rows[:limit]])
        items = [await _pathway_out(uow, p, steps[p.id]) for p in rows[:limit]]
    nxt = (_encode_position(cursors, "pathways", key, rows[limit - 1].created_at,
                            rows[limit - 1].id) if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def transition_pathway(*, db: Database, peers: Peers, identity: Identity,
                             pathway_id: str, data: PathwayTransitionIn,
                             expected: ExpectedVersion,
                             idempotency: IdempotencyKey | None = None) -> StoredResponse:
    """``resume`` a pathway on hold (a new referral for its held step, consent checked) or
    ``cancel`` it (its open step's referral is cancelled too). Its organisation's caseload."""
    _require_caseload(identity)
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = PathwayRepository(uow.session)
        p = await repo.get(pathway_id)
        steps = await repo.steps(pathway_id) if p else []
        if p is None or not _pathway_visible(identity, p, steps):
            raise PathwayNotFound()
        expected.check(p.version)
        now = utcnow()
        if data.action is PathwayAction.RESUME:
            if p.status != PathwayStatus.ON_HOLD:
                raise PathwayNotResumable(status=p.status)
            step = steps[p.current_step]
            if data.provider_id is not None:
                await _load_route(uow, step.programme_id, data.provider_id, p.region)
            try:
                blocked = await open_step(uow, p, step, identity, now=now,
                                          consents=consent_check(peers, identity),
                                          provider_id=data.provider_id, reason=data.reason)
            except IntegrityError:
                raise ConcurrentWrite() from None
            if blocked is not None:
                _raise_blocked(blocked)
            p.status = PathwayStatus.ACTIVE.value
            p.held_reason = None
            p.updated_at = now
        else:
            if p.status not in LIVE:
                raise PathwayClosed(status=p.status)
            await cancel_pathway(uow, p, steps, identity, now=now,
                                 consents=consent_check(peers, identity), reason=data.reason)
        await uow.session.flush()
        out = await _pathway_out(uow, p, steps)
        stored = await uow.remember(idempotency, status_code=200, body=dumps(out),
                                    headers={"ETag": etag(p.version), **NO_STORE})
        await _commit(uow)
        return stored


# --- events from other services ----------------------------------------------------------------
async def on_credential_status_changed(uow: UnitOfWork, event: EventEnvelope, peers: Peers
                                       ) -> None:
    """A degree recognised in the credentials service (e.g. SUNEDU's resolution recorded)
    completes the open recognition referral about it — the pathway's recognition step —
    walking the lifecycle so the history shows every hop, and opens the next step."""
    if event.data.get("to") != "recognised" or event.subject_type != "credential":
        return
    profile_id = event.data.get("profile_id")
    profile_id = profile_id if isinstance(profile_id, str) and len(profile_id) <= 36 else None
    now = utcnow()
    outcome = RecognitionOutcome(type="recognition", credential_id=event.subject_id
                                 ).model_dump(mode="json")
    consents = consent_check(peers, SYSTEM)
    for r in await ReferralRepository(uow.session).open_recognitions(
            credential_id=event.subject_id, profile_id=profile_id):
        for action in WALK_TO_COMPLETED[Status(r.status)]:
            await apply_transition(uow, r, action, SYSTEM, now=now, consents=consents,
                                   outcome=outcome if action is Action.COMPLETE else None)
        log.info("recognition_step_completed", referral_id=r.id)


async def on_profile_erased(uow: UnitOfWork, event: EventEnvelope, peers: Peers) -> None:
    """Cancellation (ARCO): open referrals and pathways of the person are cancelled; notes,
    reasons and the outcomes' personal fields are emptied; statuses, programmes, dates and
    regions stay, so the counts still add up."""
    profile_id = event.subject_id
    now = utcnow()
    consents = consent_check(peers, SYSTEM)
    pathways = PathwayRepository(uow.session)
    for p in await pathways.live_of_profile(profile_id):
        await cancel_pathway(uow, p, await pathways.steps(p.id), SYSTEM, now=now,
                             consents=consents, held_reason={"code": "profile_erased"})
    repo = ReferralRepository(uow.session)
    referrals = await repo.of_profile(profile_id)
    for r in referrals:
        if Status(r.status) in OPEN:
            await apply_transition(uow, r, Action.CANCEL, SYSTEM, now=now, consents=consents)
        r.notes = None
        r.outcome = pseudonymise(r.outcome)
        r.erased_at = r.erased_at or now
        r.updated_at = now
    await uow.session.flush()
    await repo.forget_reasons([r.id for r in referrals])
    await repo.forget_stored_responses(profile_id)
    log.info("referrals_pseudonymised", count=len(referrals))


async def on_profile_updated(uow: UnitOfWork, event: EventEnvelope) -> None:
    """A person who moves region takes their referrals and pathways with them: the
    caseworkers who now hold the person's case see the route (as with credentials), and a
    pathway's next step looks for a provider serving where the person lives."""
    changed = event.data.get("changed_fields") or []
    if "region" in changed and event.regions:
        moved = await ReferralRepository(uow.session).move_profile_region(event.subject_id,
                                                                          event.regions[0])
        log.info("referrals_moved_region", count=moved)


# Recorded in the history of what a merge cancels (a fixed text: no personal data).
MERGE_REASON = ("profile merged: the surviving profile already had this open "
                "(perfil fusionado: el perfil que queda ya lo tenía abierto)")


async def on_profile_merged(uow: UnitOfWork, event: EventEnvelope, peers: Peers) -> None:
    """A duplicate merged into another profile: its referrals and pathways follow the
    survivor. The survivor keeps the database's rule of one open referral per programme and
    one live pathway per template: where both records had one, the survivor's stays and the
    duplicate's is cancelled (its provider is told through the usual event, the history says
    why); the rest are re-keyed to the survivor, so a later referral is checked against them."""
    survivor = event.data.get("merged_into")
    merged = event.subject_id
    if not (isinstance(survivor, str) and 0 < len(survivor) <= 36) or survivor == merged:
        return
    now = utcnow()
    consents = consent_check(peers, SYSTEM)
    pathways = PathwayRepository(uow.session)
    referrals = ReferralRepository(uow.session)
    live = {p.template for p in await pathways.live_of_profile(survivor)}
    for p in await pathways.live_of_profile(merged):
        if p.template in live:
            await cancel_pathway(uow, p, await pathways.steps(p.id), SYSTEM, now=now,
                                 consents=consents, reason=MERGE_REASON,
                                 held_reason={"code": "profile_merged"})
        else:
            p.active_key = active_key(survivor, p.template)
            live.add(p.template)
    open_programmes = {r.programme_id for r in await referrals.of_profile(survivor)
                       if Status(r.status) in OPEN}
    for r in await referrals.of_profile(merged):
        if Status(r.status) not in OPEN:
            continue
        if r.programme_id in open_programmes:
            await apply_transition(uow, r, Action.CANCEL, SYSTEM, now=now, consents=consents,
                                   reason=MERGE_REASON)
        else:
            r.open_key = open_key(survivor, r.programme_id)
            open_programmes.add(r.programme_id)
    await uow.session.flush()
    await referrals.move_profile(merged, survivor)

