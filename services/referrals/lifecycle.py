"""The lifecycle of a referral, as a table: pure, no I/O, unit-tested (FHIR Task-like).

::

    requested ─accept─▶ accepted ─start─▶ in_progress ─complete─▶ completed
        │                                   │   ▲  │
        └─reject─▶ rejected           hold  │   │resume └─fail─▶ failed
                                            ▼   │
                                           on_hold

    cancel: requested | accepted | in_progress | on_hold → cancelled
    completed, failed, rejected and cancelled are final.

Who acts: the provider's side (the provider organisation, or its ministry system through a
signed inbound callback) accepts, rejects, starts, holds, resumes, completes and fails; the
referring side (the caseworker or organisation that made the referral) cancels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared import lifecycle


class Status(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"


class Side(StrEnum):
    PROVIDER = "provider"    # the organisation the referral is addressed to
    REFERRER = "referrer"    # the organisation that made it


class ReasonCode(StrEnum):
    """Why a referral was rejected or failed (machine-readable, for reports)."""

    CAPACITY = "capacity"
    NOT_ELIGIBLE = "not_eligible"
    PERSON_UNREACHABLE = "person_unreachable"
    PERSON_DECLINED = "person_declined"
    DOCUMENTS_MISSING = "documents_missing"
    OTHER = "other"


S, A = Status, Action

TRANSITIONS: Mapping[tuple[Status, Action], Status] = {
    (S.REQUESTED, A.ACCEPT): S.ACCEPTED,
    (S.REQUESTED, A.REJECT): S.REJECTED,
    (S.ACCEPTED, A.START): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.COMPLETE): S.COMPLETED,
    (S.IN_PROGRESS, A.FAIL): S.FAILED,
    (S.IN_PROGRESS, A.HOLD): S.ON_HOLD,
    (S.ON_HOLD, A.RESUME): S.IN_PROGRESS,
    (S.REQUESTED, A.CANCEL): S.CANCELLED,
    (S.ACCEPTED, A.CANCEL): S.CANCELLED,
    (S.IN_PROGRESS, A.CANCEL): S.CANCELLED,
    (S.ON_HOLD, A.CANCEL): S.CANCELLED,
}

OPEN: frozenset[Status] = frozenset({S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
FINAL: frozenset[Status] = frozenset(set(Status) - OPEN)
# Open states whose provider is working against the completion deadline (the clock stops
# while the referral is on hold).
COMPLETION_CLOCK: frozenset[Status] = frozenset({S.ACCEPTED, S.IN_PROGRESS})


@dataclass(frozen=True, slots=True)
class ActionRule:
    side: Side
    needs_reason: bool = False
    needs_reason_code: bool = False
    needs_outcome: bool = False


ACTION_RULES: Mapping[Action, ActionRule] = {
    A.ACCEPT: ActionRule(Side.PROVIDER),
    A.REJECT: ActionRule(Side.PROVIDER, needs_reason=True, needs_reason_code=True),
    A.START: ActionRule(Side.PROVIDER),
    A.HOLD: ActionRule(Side.PROVIDER, needs_reason=True),
    A.RESUME: ActionRule(Side.PROVIDER),
    A.COMPLETE: ActionRule(Side.PROVIDER, needs_outcome=True),
    A.FAIL: ActionRule(Side.PROVIDER, needs_reason=True, needs_reason_code=True),
    A.CANCEL: ActionRule(Side.REFERRER, needs_reason=True),
}

# The shortest walk from an open state to ``completed`` (an authority's decision received
# through an event completes the step; the history still shows every hop).
WALK_TO_COMPLETED: Mapping[Status, tuple[Action, ...]] = {
    S.REQUESTED: (A.ACCEPT, A.START, A.COMPLETE),
    S.ACCEPTED: (A.START, A.COMPLETE),
    S.IN_PROGRESS: (A.COMPLETE,),
    S.ON_HOLD: (A.RESUME, A.COMPLETE),
}


def allowed_actions(current: Status) -> list[Action]:
    return lifecycle.allowed_actions(TRANSITIONS, current)


def next_status(current: Status, action: Action) -> Status:
    """Where ``action`` takes a referral in state ``current``; 409 if it may not."""
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise lifecycle.not_allowed(TRANSITIONS, current, action)
    return target
