"""The transactional core shared by referrals, pathways and event handlers: open a referral,
move it along its lifecycle, and carry a pathway forward when one of its steps closes.

Everything here runs inside the caller's unit of work: a step's completion, the opening of
the next step's referral and their events are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from services.referrals.clients import ConsentAnswer
from services.referrals.lifecycle import FINAL, OPEN, Action, Status, allowed_actions, next_status
from services.referrals.models import (
    Pathway,
    PathwayStep,
    Programme,
    Provider,
    Referral,
    ReferralTransition,
)
from services.referrals.outcomes import DEFAULT_OUTCOME
from services.referrals.pathways import PathwayStatus, StepStatus
from services.referrals.repository import ProviderRepository, ReferralRepository
from services.referrals.sla import add_days, is_overdue
from services.referrals.vacancies.placement import fill_opening
from shared.clock import as_utc
from shared.db import UnitOfWork
from shared.identity import Identity
from shared.models import new_id
from shared.outbox import Event

# (profile id, recipient organisation, programme) → the person's answer, None if not visible
ConsentCheck = Callable[[str, str, str], Awaitable[ConsentAnswer | None]]

REFERRAL_PURPOSE = "referral"


def outcome_kind_of(programme: Programme) -> str:
    return programme.outcome_kind or DEFAULT_OUTCOME[programme.route_type].value


def open_key(profile_id: str, programme_id: str) -> str:
    return f"{profile_id}:{programme_id}"


def application_key(profile_id: str, vacancy_id: str) -> str:
    """An open application's key: one per person and vacancy (beside any other referral to
    the employment programme), enforced by the database like :func:`open_key`."""
    return f"{profile_id}:vacancy:{vacancy_id}"


def active_key(profile_id: str, template: str) -> str:
    """A live pathway's key: one per person and template, enforced by the database."""
    return f"{profile_id}:{template}"


# --- shapes ---------------------------------------------------------------------------------
def referral_dict(r: Referral, now: datetime) -> dict[str, Any]:
    status = Status(r.status)
    return {
        "id": r.id, "profile_id": r.profile_id, "programme_id": r.programme_id,
        "route_type": r.route_type, "outcome_kind": r.outcome_kind,
        "provider_id": r.provider_id, "provider_organisation_id": r.provider_organisation_id,
        "referring_organisation_id": r.referring_organisation_id,
        "referring_subject": r.referring_subject,
        "profile_organisation_id": r.profile_organisation_id, "country": r.country,
        "region": r.region, "status": status.value, "notes": r.notes,
        "reason_code": r.reason_code, "outcome": r.outcome, "credential_id": r.credential_id,
        "consent_id": r.consent_id, "pathway_id": r.pathway_id,
        "pathway_step": r.pathway_step, "vacancy_id": r.vacancy_id,
        "due_accept_at": as_utc(r.due_accept_at),
        "due_complete_at": as_utc(r.due_complete_at),
        "overdue": is_overdue(r.status, r.due_accept_at, r.due_complete_at, now),
        "at_risk": r.at_risk_reason is not None and status in OPEN,
        "at_risk_reason": r.at_risk_reason if status in OPEN else None,
        "accepted_at": _utc(r.accepted_at), "started_at": _utc(r.started_at),
        "closed_at": _utc(r.closed_at),
        "allowed_actions": [a.value for a in allowed_actions(status)],
        "version": r.version, "created_at": as_utc(r.created_at),
        "updated_at": as_utc(r.updated_at),
    }


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def audience(*organisations: str | None) -> list[str]:
    """``data.organisations`` of an event: who besides its owner may see it in the feed."""
    return list(dict.fromkeys(o for o in organisations if o))


def _ids(r: Referral) -> dict[str, Any]:
    return {"profile_id": r.profile_id, "programme_id": r.programme_id,
            "provider_id": r.provider_id,
            "provider_organisation_id": r.provider_organisation_id,
            "referring_organisation_id": r.referring_organisation_id,
            "pathway_id": r.pathway_id,
            "organisations": audience(r.referring_organisation_id,
                                      r.provider_organisation_id)}


def referral_event(kind: str, r: Referral, data: dict[str, Any] | None = None) -> Event:
    """Thin events: ids, states and changed field names; never notes, reasons or outcomes."""
    return Event(type=kind, subject_type="referral", subject_id=r.id,
                 subject_version=r.version, organisation_id=r.referring_organisation_id,
                 regions=[r.region], data={**_ids(r), **(data or {})})


def pathway_event(kind: str, p: Pathway, data: dict[str, Any],
                  providers: tuple[str | None, ...] = ()) -> Event:
    """``providers``: the organisations of the steps concerned (they see the event too)."""
    return Event(type=kind, subject_type="pathway", subject_id=p.id, subject_version=p.version,
                 organisation_id=p.organisation_id, regions=[p.region],
                 data={"profile_id": p.profile_id, "template": p.template, **data,
                       "organisations": audience(p.organisation_id, *providers)})


def history_row(r: Referral, *, action: str, from_status: str | None, to_status: str,
                actor: Identity, reason: str | None, reason_code: str | None,
                now: datetime) -> ReferralTransition:
    return ReferralTransition(
        referral_id=r.id, action=action, from_status=from_status, to_status=to_status,
        reason=reason, reason_code=reason_code, actor=actor.subject,
        actor_role=actor.role.value, actor_organisation_id=actor.organisation_id,
        request_id=actor.request_id, occurred_at=now)


# --- opening ---------------------------------------------------------------------------------
def new_referral(*, profile_id: str, profile_organisation_id: str, region: str,
                 programme: Programme, provider: Provider, referring_organisation_id: str,
                 referring_subject: str, notes: str | None, credential_id: str | None,
                 consent_id: str | None, now: datetime, pathway_id: str | None = None,
                 pathway_step: int | None = None) -> Referral:
    due_accept = add_days(now, provider.sla_accept_days, working=provider.sla_working_days)
    due_complete = add_days(due_accept, provider.sla_complete_days,
                            working=provider.sla_working_days)
    return Referral(
        id=new_id(), profile_id=profile_id, profile_organisation_id=profile_organisation_id,
        region=region, country=programme.country, programme_id=programme.id,
        route_type=programme.route_type, outcome_kind=outcome_kind_of(programme),
        provider_id=provider.id, provider_organisation_id=provider.organisation_id,
        referring_organisation_id=referring_organisation_id,
        referring_subject=referring_subject, status=Status.REQUESTED.value,
        open_key=open_key(profile_id, programme.id), notes=notes, consent_id=consent_id,
        credential_id=credential_id, pathway_id=pathway_id, pathway_step=pathway_step,
        due_accept_at=due_accept, due_complete_at=due_complete, created_at=now,
        updated_at=now, version=1)


async def open_referral(uow: UnitOfWork, r: Referral, actor: Identity, now: datetime,
                        reason: str | None = None) -> None:
    repo = ReferralRepository(uow.session)
    repo.add(r)
    await uow.session.flush()
    repo.add_transition(history_row(r, action="create", from_status=None,
                                    to_status=r.status, actor=actor, reason=reason,
                                    reason_code=None, now=now))
    uow.emit(referral_event("referral.created", r, {"status": r.status}))


# --- moving ----------------------------------------------------------------------------------
async def apply_transition(
    uow: UnitOfWork, r: Referral, action: Action, actor: Identity, *, now: datetime,
    consents: ConsentCheck, reason: str | None = None, reason_code: str | None = None,
    outcome: dict[str, Any] | None = None,
) -> Status:
    """Move ``r`` by ``action`` (409 if its state does not allow it), record who, when and
    why, emit ``referral.status_changed``, and carry its pathway forward when it closes."""
    current = Status(r.status)
    target = next_status(current, action)
    changed = ["status"]
    r.status = target.value
    r.updated_at = now
    if action is Action.ACCEPT:
        r.accepted_at = now
        provider = await uow.session.get(Provider, r.provider_id)
        if provider is not None:
            r.due_complete_at = add_days(now, provider.sla_complete_days,
                                         working=provider.sla_working_days)
            changed.append("due_complete_at")
    elif action is Action.START:
        r.started_at = now
    elif action is Action.HOLD:
        r.held_at = now
    elif action is Action.RESUME:
        if r.held_at is not None:  # the clock stopped while on hold
            r.due_complete_at = as_utc(r.due_complete_at) + (now - as_utc(r.held_at))
            changed.append("due_complete_at")
        r.held_at = None
    if reason_code is not None:
        r.reason_code = reason_code
        changed.append("reason_code")
    if outcome is not None:
        r.outcome = outcome
        changed.append("outcome")
    if target in FINAL:
        r.closed_at = now
        r.open_key = None
        r.held_at = None
    await uow.session.flush()  # bumps the version, checked against the row (stale → 412)
    if (target is Status.COMPLETED and r.vacancy_id is not None and outcome is not None
            and outcome.get("type") == "employment"):
        # a placement through an application takes one of the vacancy's openings
        await fill_opening(uow, r.vacancy_id, now)
    ReferralRepository(uow.session).add_transition(history_row(
        r, action=action.value, from_status=current.value, to_status=target.value,
        actor=actor, reason=reason, reason_code=reason_code, now=now))
    uow.emit(referral_event("referral.status_changed", r, {
        "from": current.value, "to": target.value, "action": action.value,
        "reason_code": reason_code, "changed_fields": changed}))
    if r.pathway_id is not None and target in FINAL:
        await step_closed(uow, r, target, actor, now=now, consents=consents)
    return target


# --- pathways --------------------------------------------------------------------------------
async def open_step(uow: UnitOfWork, pathway: Pathway, step: PathwayStep, actor: Identity, *,
                    now: datetime, consents: ConsentCheck, notes: str | None = None,
                    provider_id: str | None = None, reason: str | None = None
                    ) -> dict[str, Any] | None:
    """Open ``step`` as a referral. Returns None when opened, or why it could not be (the
    pathway's ``held_reason``)."""
    programme = await uow.session.get(Programme, step.programme_id)
    provider = await uow.session.get(Provider, provider_id or step.provider_id)
    hold: dict[str, Any] = {"step": step.position, "programme_id": step.programme_id}
    delivers = provider is not None and step.programme_id in (
        await ProviderRepository(uow.session).programme_ids([provider.id]))[provider.id]
    if (programme is None or not programme.active or provider is None or not provider.active
            or not delivers or pathway.region not in (provider.regions or [])):
        return {**hold, "code": "no_provider", "provider_id": provider_id or step.provider_id}
    existing = await ReferralRepository(uow.session).open_for(pathway.profile_id, programme.id)
    if existing is not None:
        return {**hold, "code": "referral_already_open"}
    answer = await consents(pathway.profile_id, provider.organisation_id, programme.id)
    if answer is None or not answer.granted:
        return {**hold, "code": "consent_missing", "purpose": REFERRAL_PURPOSE,
                "recipient_organisation_id": provider.organisation_id}
    r = new_referral(
        profile_id=pathway.profile_id, profile_organisation_id=pathway.profile_organisation_id,
        region=pathway.region, programme=programme, provider=provider,
        referring_organisation_id=pathway.organisation_id,
        referring_subject=pathway.created_by, notes=notes,
        credential_id=pathway.credential_id if programme.route_type == "degree_recognition"
        else None, consent_id=answer.consent_id, now=now, pathway_id=pathway.id,
        pathway_step=step.position)
    await open_referral(uow, r, actor, now, reason)
    step.provider_id = provider.id
    step.provider_organisation_id = provider.organisation_id
    step.status = StepStatus.OPEN.value
    step.referral_id = r.id
    step.attempts = (step.attempts or 0) + 1
    return None


async def cancel_pathway(uow: UnitOfWork, pathway: Pathway, steps: list[PathwayStep],
                         actor: Identity, *, now: datetime, consents: ConsentCheck,
                         reason: str | None = None,
                         held_reason: dict[str, Any] | None = None) -> None:
    """Cancel a live pathway: the steps not completed, and the referral a step has open
    (its provider is told through the usual event)."""
    pathway.status = PathwayStatus.CANCELLED.value
    pathway.active_key = None
    if held_reason is not None:
        pathway.held_reason = held_reason
    pathway.updated_at = now
    for s in steps:
        if s.status != StepStatus.COMPLETED:
            s.status = StepStatus.CANCELLED.value
    await uow.session.flush()
    refs = ReferralRepository(uow.session)
    for s in steps:
        r = await refs.get(s.referral_id) if s.referral_id else None
        if r is not None and Status(r.status) in OPEN:
            await apply_transition(uow, r, Action.CANCEL, actor, now=now, consents=consents,
                                   reason=reason)


def hold(pathway: Pathway, reason: dict[str, Any], now: datetime) -> None:
    pathway.status = PathwayStatus.ON_HOLD.value
    pathway.held_reason = reason
    pathway.updated_at = now


async def step_closed(uow: UnitOfWork, r: Referral, status: Status, actor: Identity, *,
                      now: datetime, consents: ConsentCheck) -> None:
    """A pathway step's referral closed: completing it opens the next step (or completes
    the pathway); rejecting, failing or cancelling it holds the pathway."""
    pathway = await uow.session.get(Pathway, r.pathway_id)
    if pathway is None or pathway.status not in (PathwayStatus.ACTIVE, PathwayStatus.ON_HOLD):
        return
    steps = {s.position: s for s in await _steps(uow, pathway.id)}
    step = steps.get(r.pathway_step if r.pathway_step is not None else -1)
    if step is None or step.referral_id != r.id:
        return  # a referral the step no longer waits for
    if status is not Status.COMPLETED:
        step.status = StepStatus.FAILED.value
        hold(pathway, {"code": f"step_{status.value}", "step": step.position,
                       "programme_id": step.programme_id, "referral_id": r.id,
                       "reason_code": r.reason_code if status is not Status.CANCELLED
                       else None}, now)
        await uow.session.flush()
        return
    step.status = StepStatus.COMPLETED.value
    step.completed_at = now
    following = steps.get(step.position + 1)
    if following is None:
        pathway.status = PathwayStatus.COMPLETED.value
        pathway.active_key = None
        pathway.held_reason = None
        pathway.completed_at = now
        pathway.updated_at = now
        await uow.session.flush()
        uow.emit(pathway_event("pathway.completed", pathway, {"steps": len(steps)},
                               (step.provider_organisation_id,)))
        return
    pathway.current_step = following.position
    pathway.updated_at = now
    blocked = await open_step(uow, pathway, following, actor, now=now, consents=consents)
    if blocked is None:
        pathway.status = PathwayStatus.ACTIVE.value
        pathway.held_reason = None
    else:
        hold(pathway, blocked, now)
    await uow.session.flush()
    uow.emit(pathway_event("pathway.advanced", pathway, {
        "from_step": step.position, "to_step": following.position,
        "status": pathway.status, "referral_id": following.referral_id
        if blocked is None else None},
        (step.provider_organisation_id,
         following.provider_organisation_id if blocked is None else None)))


async def _steps(uow: UnitOfWork, pathway_id: str) -> list[PathwayStep]:
    from services.referrals.repository import PathwayRepository

    return await PathwayRepository(uow.session).steps(pathway_id)
