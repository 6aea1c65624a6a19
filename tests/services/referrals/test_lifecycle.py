"""The referral lifecycle as a table: every action from every state (PRODUCT.md section 4),
and which side may take each action."""

from __future__ import annotations

import itertools

import pytest

from services.referrals.access import may_act
from services.referrals.lifecycle import (
    ACTION_RULES,
    FINAL,
    OPEN,
    TRANSITIONS,
    WALK_TO_COMPLETED,
    Action,
    Side,
    Status,
    allowed_actions,
    next_status,
)
from shared.identity import Identity, Role
from shared.lifecycle import TransitionNotAllowed

S, A = Status, Action

# Written from the spec, not from the code: requested → accepted | rejected; accepted →
# in_progress → completed | failed; in_progress ⇄ on_hold; any open state → cancelled.
EXPECTED: dict[tuple[Status, Action], Status] = {
    (S.REQUESTED, A.ACCEPT): S.ACCEPTED,
    (S.REQUESTED, A.REJECT): S.REJECTED,
    (S.ACCEPTED, A.START): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.COMPLETE): S.COMPLETED,
    (S.IN_PROGRESS, A.FAIL): S.FAILED,
    (S.IN_PROGRESS, A.HOLD): S.ON_HOLD,
    (S.ON_HOLD, A.RESUME): S.IN_PROGRESS,
    **{(s, A.CANCEL): S.CANCELLED for s in (S.REQUESTED, S.ACCEPTED, S.IN_PROGRESS,
                                             S.ON_HOLD)},
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(Status, Action)),
                         ids=[f"{s.value}-{a.value}" for s, a in
                              itertools.product(Status, Action)])
def test_every_action_from_every_state(state: Status, action: Action) -> None:
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(TransitionNotAllowed) as err:
            next_status(state, action)
        problem = err.value.problem("en")
        assert problem["status"] == 409
        assert problem["status_now"] == state.value
        assert problem["allowed_actions"] == [a.value for a in allowed_actions(state)]
    else:
        assert next_status(state, action) is expected


def test_the_table_is_exactly_the_spec() -> None:
    assert dict(TRANSITIONS) == EXPECTED
    assert {S.COMPLETED, S.FAILED, S.REJECTED, S.CANCELLED} == FINAL
    assert set(Status) - FINAL == OPEN
    for state in FINAL:
        assert allowed_actions(state) == []


def test_walks_to_completed_follow_the_table() -> None:
    for start, actions in WALK_TO_COMPLETED.items():
        state = start
        for action in actions:
            state = next_status(state, action)
        assert state is S.COMPLETED
    assert set(WALK_TO_COMPLETED) == OPEN


def test_what_each_action_needs() -> None:
    needs = {a: (r.needs_reason, r.needs_reason_code, r.needs_outcome)
             for a, r in ACTION_RULES.items()}
    assert needs == {
        A.ACCEPT: (False, False, False), A.START: (False, False, False),
        A.RESUME: (False, False, False), A.COMPLETE: (False, False, True),
        A.REJECT: (True, True, False), A.FAIL: (True, True, False),
        A.HOLD: (True, False, False), A.CANCEL: (True, False, False)}


ROLES_BY_SIDE = {
    Side.PROVIDER: {Role.PROVIDER, Role.MINISTRY_SYSTEM, Role.SYSTEM},
    Side.REFERRER: {Role.CASEWORKER, Role.COORDINATOR, Role.NGO_PARTNER, Role.SYSTEM},
}


@pytest.mark.parametrize(("role", "action"), list(itertools.product(Role, Action)),
                         ids=[f"{r.value}-{a.value}" for r, a in itertools.product(Role, Action)])
def test_who_may_take_each_action(role: Role, action: Action) -> None:
    identity = Identity(subject="x", role=role, organisation_id="org")
    side = Side.REFERRER if action is A.CANCEL else Side.PROVIDER
    assert ACTION_RULES[action].side is side
    assert may_act(identity, action) is (role in ROLES_BY_SIDE[side])
