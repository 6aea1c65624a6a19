"""The verification lifecycle as a table: every (state, action) pair, checked one by one."""

from __future__ import annotations

import pytest

from services.credentials.lifecycle import (
    FINAL,
    TRANSITIONS,
    Action,
    Status,
    allowed_actions,
    next_status,
)
from shared.lifecycle import TransitionNotAllowed

S, A = Status, Action
# Written out independently of the implementation's table: rows are states, "-" is a 409.
# columns: see_document apostille verify_with_issuer recognise reject suspend reinstate revoke
EXPECTED = {
    S.SELF_DECLARED:        ["document_seen", "-", "verified_with_issuer", "-", "rejected",
                             "-", "-", "-"],
    S.DOCUMENT_SEEN:        ["-", "apostilled", "verified_with_issuer", "recognised",
                             "rejected", "-", "-", "-"],
    S.APOSTILLED:           ["-", "-", "verified_with_issuer", "recognised", "rejected", "-",
                             "-", "-"],
    S.VERIFIED_WITH_ISSUER: ["-", "-", "-", "recognised", "rejected", "suspended", "-",
                             "revoked"],
    S.RECOGNISED:           ["-", "-", "-", "-", "-", "suspended", "-", "revoked"],
    S.REJECTED:             ["-"] * 8,
    S.SUSPENDED:            ["-", "-", "-", "-", "-", "-", "(previous)", "revoked"],
    S.REVOKED:              ["-"] * 8,
}
ACTIONS = [A.SEE_DOCUMENT, A.APOSTILLE, A.VERIFY_WITH_ISSUER, A.RECOGNISE, A.REJECT,
           A.SUSPEND, A.REINSTATE, A.REVOKE]

CASES = [(state, action, row[i]) for state, row in EXPECTED.items()
         for i, action in enumerate(ACTIONS)]


def test_the_expectation_covers_every_state_and_action() -> None:
    assert set(EXPECTED) == set(Status)
    assert set(ACTIONS) == set(Action)
    assert len(CASES) == len(Status) * len(Action)


@pytest.mark.parametrize(("state", "action", "expected"), CASES,
                         ids=[f"{s.value}-{a.value}" for s, a, _ in CASES])
def test_transition_table(state: Status, action: Action, expected: str) -> None:
    if expected == "-":
        with pytest.raises(TransitionNotAllowed) as caught:
            next_status(state, action, suspended_from=S.RECOGNISED)
        assert caught.value.status == 409
        assert caught.value.extra["allowed_actions"] == [a.value for a in allowed_actions(state)]
    elif expected == "(previous)":
        for previous in (S.VERIFIED_WITH_ISSUER, S.RECOGNISED):
            assert next_status(state, action, suspended_from=previous) is previous
    else:
        assert next_status(state, action) == Status(expected)


@pytest.mark.parametrize("bad_previous", [None, S.SELF_DECLARED, S.REVOKED, S.SUSPENDED])
def test_reinstate_needs_a_state_we_vouched_for(bad_previous: Status | None) -> None:
    with pytest.raises(TransitionNotAllowed):
        next_status(S.SUSPENDED, A.REINSTATE, suspended_from=bad_previous)


def test_final_states_have_no_way_out_and_every_state_is_reachable() -> None:
    assert all(not allowed_actions(s) for s in FINAL)
    reachable = {S.SELF_DECLARED}
    frontier = [S.SELF_DECLARED]
    while frontier:
        state = frontier.pop()
        for (s, _a), target in TRANSITIONS.items():
            if s is state and isinstance(target, Status) and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(Status)


def test_problem_names_action_and_state_in_both_languages() -> None:
    with pytest.raises(TransitionNotAllowed) as caught:
        next_status(S.REVOKED, A.RECOGNISE)
    es = caught.value.problem("es")
    en = caught.value.problem("en")
    assert es["type"] == "/problems/invalid-transition"
    assert "recognise" in es["detail"] and "revoked" in es["detail"]
    assert en["detail"] == "The action 'recognise' is not possible in state 'revoked'."
    assert es["allowed_actions"] == []
