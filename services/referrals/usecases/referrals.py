"""Referral use cases: refer a person (consent, one open referral per programme, provider
capacity), list and read the referrals the caller may see, and move one along its lifecycle.
Who may see which referral is ``access``; the lifecycle itself is ``workflow``."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError

from services.referrals.access import can_see_referral, may_act
from services.referrals.clients import SYSTEM, ConsentAnswer, Registry
from services.referrals.errors import (
    PROFILE_FIELD,
    ActionNotForRole,
    ConcurrentWrite,
    ConsentMissing,
    ProviderAtCapacity,
    ReferralAlreadyOpen,
)
from services.referrals.models import Programme, Provider, Referral
from services.referrals.repository import ProviderRepository, ReferralFilters, ReferralRepository
from services.referrals.schemas.referrals import (
    HistoryOut,
    ReferralCreate,
    ReferralOut,
    TransitionIn,
    TransitionOut,
)
from services.referrals.usecases.common import (
    NO_STORE,
    check_reach,
    commit_or_conflict,
    consent_check,
    decode_position,
    dumps,
    encode_position,
    load_route,
    load_visible_referral,
    require_caseload,
    require_reader,
)
from services.referrals.vacancies.models import Vacancy
from services.referrals.vacancies.usecases import application_route
from services.referrals.workflow import (
    application_key,
    apply_transition,
    new_referral,
    open_referral,
    referral_dict,
)
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, UnitOfWork
from shared.errors import ServiceUnavailable, ValidationFailed
from shared.i18n import Text
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity
from shared.pagination import CursorCodec, Page
from shared.peers import Peers

log = structlog.get_logger("ruta.referrals")


def _referral_out(r: Referral, now: datetime) -> ReferralOut:
    return ReferralOut.model_validate(referral_dict(r, now))


async def create_referral(*, db: Database, peers: Peers, identity: Identity,
                          data: ReferralCreate, idempotency: IdempotencyKey | None = None
                          ) -> StoredResponse:
    """Refer a person. What is read elsewhere — the registry's consent answer, which also
    says whom it answered for (one peer call; an application to a vacancy reads the profile
    first, its route depending on the person's region) — and the catalogue route is read
    before the Idempotency-Key is taken: the
    key's lock and a connection of this service's pool are held only for the checks and
    writes of the referral itself (docs/decisions/0015). A retry of an answered request is
    answered first, before any of that work."""
    require_caseload(identity)
    assert identity.organisation_id is not None
    if data.vacancy_id is None:
        found = await _person_for_programme(db=db, peers=peers, identity=identity, data=data,
                                            idempotency=idempotency)
    else:
        found = await _person_for_vacancy(db=db, peers=peers, identity=identity, data=data,
                                          idempotency=idempotency)
    if isinstance(found, StoredResponse):
        return found  # a retry of an answered request
    person, _, _, programme, provider, vacancy, answer = found
    if not answer.granted:
        raise ConsentMissing(provider.organisation_id, programme.id)
    try:
        return await _write_referral(db=db, identity=identity, data=data,
                                     idempotency=idempotency, found=found)
    except _AlreadyOpen:
        # the open key's unique index refused it: which referral, for a caller who may see
        # it, is read only now (checking first cost every referral a round trip)
        raise await _already_open(db, identity, person, programme.id,
                                  application=vacancy is not None) from None


class _AlreadyOpen(Exception):
    """The person already has an open referral to the programme (or applied to the
    vacancy): the referral's transaction is rolled back before the 409 is worked out."""


async def _write_referral(*, db: Database, identity: Identity, data: ReferralCreate,
                          idempotency: IdempotencyKey | None, found: Found) -> StoredResponse:
    assert identity.organisation_id is not None
    person, person_org, region, programme, provider, vacancy, answer = found
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay  # a concurrent retry was answered meanwhile
        await _check_capacity(uow, identity, person, programme, provider,
                              application=vacancy is not None)
        now = utcnow()
        r = new_referral(
            profile_id=person, profile_organisation_id=person_org, region=region,
            programme=programme, provider=provider,
            referring_organisation_id=identity.organisation_id,
            referring_subject=identity.subject, notes=data.notes,
            credential_id=data.credential_id, consent_id=answer.consent_id, now=now)
        if vacancy is not None:
            r.vacancy_id = vacancy.id
            r.open_key = application_key(person, vacancy.id)
        try:
            await open_referral(uow, r, identity, now)
        except IntegrityError:
            raise _AlreadyOpen() from None
        out = _referral_out(r, now)
        stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
            "ETag": etag(r.version), "Location": f"/v1/referrals/{r.id}", **NO_STORE})
        await commit_or_conflict(uow)
        return stored


Found = tuple[str, str, str, Programme, Provider, Vacancy | None, ConsentAnswer]


async def _person_for_programme(*, db: Database, peers: Peers, identity: Identity,
                                data: ReferralCreate, idempotency: IdempotencyKey | None
                                ) -> Found | StoredResponse:
    """A referral to a programme: its route is in the request, so the registry is asked once.
    The consent check answers for the person (a merged id's survivor) with her organisation
    and region; the provider's reach is checked on that region."""
    assert data.programme_id is not None and data.provider_id is not None
    async with db.reading() as uow:
        if (replay := await uow.stored(idempotency)) is not None:
            return replay
        programme, provider = await load_route(uow, data.programme_id, data.provider_id, None)
    answer = await Registry(peers).consent(identity, data.profile_id,
                                           recipient=provider.organisation_id,
                                           programme=programme.id)
    if answer is None:
        raise ValidationFailed([("profile_id", PROFILE_FIELD)])
    if answer.profile_id is None or answer.organisation_id is None or answer.region is None:
        raise ServiceUnavailable()  # a registry that does not say whom it answered for
    check_reach(provider, answer.region)
    return (answer.profile_id, answer.organisation_id, answer.region, programme, provider,
            None, answer)


async def _person_for_vacancy(*, db: Database, peers: Peers, identity: Identity,
                              data: ReferralCreate, idempotency: IdempotencyKey | None
                              ) -> Found | StoredResponse:
    """An application: the vacancy's own route, which depends on the person's region."""
    assert data.vacancy_id is not None
    async with db.uow() as uow:
        if (replay := await uow.stored(idempotency)) is not None:
            return replay
    registry = Registry(peers)
    profile = await registry.profile(identity, data.profile_id)
    if profile is None:
        raise ValidationFailed([("profile_id", PROFILE_FIELD)])
    person = str(profile["id"])  # a merged id answers as its survivor
    region = str(profile["region"])
    async with db.uow() as uow:
        vacancy, programme, provider = await application_route(
            uow, identity, vacancy_id=data.vacancy_id, programme_id=data.programme_id,
            provider_id=data.provider_id, region=region)
    answer = await registry.consent(identity, person, recipient=provider.organisation_id,
                                    programme=programme.id)
    if answer is None:
        raise ValidationFailed([("profile_id", PROFILE_FIELD)])
    return (person, str(profile["organisation_id"]), region, programme, provider, vacancy,
            answer)


async def _check_capacity(uow: UnitOfWork, identity: Identity, profile_id: str,
                          programme: Programme, provider: Provider, *,
                          application: bool = False) -> None:
    """409 when the provider is at capacity. A person's second open referral to the
    programme is refused by the open key's unique index when the referral is written (an
    application to a vacancy may sit beside other referrals to the programme: one per
    vacancy, its own key); at capacity, that refusal is still the one given."""
    if provider.capacity is None:
        return
    repo = ReferralRepository(uow.session)
    # one referral at a time per limited provider (PostgreSQL row lock; SQLite has one
    # writer): the count below cannot be overtaken
    await ProviderRepository(uow.session).get(provider.id, for_update=True)
    taken = await repo.open_count(provider.id)
    if taken >= provider.capacity:
        existing = None if application else await repo.open_for(profile_id, programme.id)
        if existing is not None:
            raise _open_referral_conflict(identity, existing)
        raise ProviderAtCapacity(open=taken, capacity=provider.capacity)


async def _already_open(db: Database, identity: Identity, profile_id: str,
                        programme_id: str, *, application: bool) -> ReferralAlreadyOpen:
    """The 409 once the open key refused the referral (read after its rollback)."""
    if application:
        return ReferralAlreadyOpen()
    async with db.reading() as uow:
        existing = await ReferralRepository(uow.session).open_for(profile_id, programme_id)
    return _open_referral_conflict(identity, existing)


def _open_referral_conflict(identity: Identity, existing: Referral | None
                            ) -> ReferralAlreadyOpen:
    """The 409, with the open referral's id for a caller who may see it."""
    return ReferralAlreadyOpen(extra={"existing_referral_id": existing.id}
                               if existing is not None and can_see_referral(identity, existing)
                               else None)


async def list_referrals(*, db: Database, identity: Identity, cursors: CursorCodec,
                         filters: ReferralFilters, limit: int, cursor: str | None
                         ) -> Page[ReferralOut]:
    require_reader(identity)
    key = filters.as_dict()
    after = decode_position(cursors, cursor, "referrals", key, caller=identity)
    now = utcnow()
    async with db.uow() as uow:
        rows = await ReferralRepository(uow.session).find(
            identity=identity, filters=filters, now=now, after=after, limit=limit + 1)
        items = [_referral_out(r, now) for r in rows[:limit]]
    nxt = (encode_position(cursors, "referrals", key, rows[limit - 1].created_at,
                           rows[limit - 1].id, caller=identity) if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def get_referral(*, db: Database, identity: Identity, referral_id: str) -> ReferralOut:
    require_reader(identity)
    async with db.uow() as uow:
        return _referral_out(await load_visible_referral(uow, identity, referral_id), utcnow())


async def referral_history(*, db: Database, identity: Identity, referral_id: str
                           ) -> HistoryOut:
    require_reader(identity)
    async with db.uow() as uow:
        r = await load_visible_referral(uow, identity, referral_id)
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
    require_reader(identity)
    action = data.action
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        r = await load_visible_referral(uow, identity, referral_id)
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
        await commit_or_conflict(uow)
    log.info("referral_transition", referral_id=referral_id, action=action.value,
             to=out.status.value, actor_role=identity.role.value)
    return stored
