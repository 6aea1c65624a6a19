"""Events from other services, handled inside the consumer's unit of work (the inbox makes
each run exactly once): a degree recognised completes its recognition step, an erased person
is pseudonymised, a person who moves takes their referrals along, a merged duplicate's
referrals and pathways follow the survivor. They act as ``SYSTEM``."""

from __future__ import annotations

import structlog

from services.referrals.clients import SYSTEM
from services.referrals.lifecycle import OPEN, WALK_TO_COMPLETED, Action, Status
from services.referrals.outcomes import RecognitionOutcome, pseudonymise
from services.referrals.repository import PathwayRepository, ReferralRepository
from services.referrals.usecases.common import consent_check
from services.referrals.usecases.regularisation import forget_person, merge_person
from services.referrals.workflow import (
    active_key,
    application_key,
    apply_transition,
    cancel_pathway,
    open_key,
)
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.idempotency import forget_responses_mentioning
from shared.outbox import EventEnvelope
from shared.peers import Peers

log = structlog.get_logger("ruta.referrals")


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
    # first responses of idempotent writes hold notes and outcomes
    await forget_responses_mentioning(uow.session, profile_id)
    await forget_person(uow, profile_id)
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
        if r.vacancy_id is not None:  # an application keeps its own key (one per vacancy)
            r.open_key = application_key(survivor, r.vacancy_id)
            continue
        if r.programme_id in open_programmes:
            await apply_transition(uow, r, Action.CANCEL, SYSTEM, now=now, consents=consents,
                                   reason=MERGE_REASON)
        else:
            r.open_key = open_key(survivor, r.programme_id)
            open_programmes.add(r.programme_id)
    await uow.session.flush()
    await referrals.move_profile(merged, survivor)
    await merge_person(uow, merged, survivor)
