"""The verification lifecycle of a credential, as a table: pure, no I/O, unit-tested.

::

    self_declared ─see_document─▶ document_seen ─apostille─▶ apostilled
         │                             │                         │
         └──────verify_with_issuer─────┴─────────────────────────┴──▶ verified_with_issuer
                                       │                         │           │
                                       └───────recognise─────────┴───────────┴──▶ recognised

    reject:    self_declared | document_seen | apostilled | verified_with_issuer → rejected
    suspend:   verified_with_issuer | recognised → suspended
    reinstate: suspended → the state it was suspended from
    revoke:    verified_with_issuer | recognised | suspended → revoked
    rejected and revoked are final.

Why these edges:

- ``verify_with_issuer`` is allowed straight from ``self_declared``: a domestic certificate
  (MTPE skills certification, an Emprende Segur@ module) is checked in the issuer's own
  register without a paper to see or apostille.
- ``recognise`` records an authority's decision (SUNEDU, SENESCYT): the caseworker must at
  least have seen a document (the resolution itself), so not from ``self_declared``; it is
  allowed before ``verified_with_issuer`` because the authority's decision supersedes ours
  (and Venezuelan apostilles were long impossible to obtain).
- ``suspend``/``revoke`` only make sense for a credential we vouch for (verified or
  recognised); an unverified one that turns out false is ``reject``-ed.
- A rejected or revoked credential is never reopened: a new credential is declared instead,
  so the history of what we once asserted stays true.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from shared import lifecycle


class Status(StrEnum):
    SELF_DECLARED = "self_declared"
    DOCUMENT_SEEN = "document_seen"
    APOSTILLED = "apostilled"
    VERIFIED_WITH_ISSUER = "verified_with_issuer"
    RECOGNISED = "recognised"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Action(StrEnum):
    SEE_DOCUMENT = "see_document"
    APOSTILLE = "apostille"
    VERIFY_WITH_ISSUER = "verify_with_issuer"
    RECOGNISE = "recognise"
    REJECT = "reject"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"


class _Resume:
    """Target of ``reinstate``: the state the credential was suspended from."""

    def __repr__(self) -> str:
        return "RESUME"


RESUME: Final = _Resume()

S, A = Status, Action

TRANSITIONS: Mapping[tuple[Status, Action], Status | _Resume] = {
    (S.SELF_DECLARED, A.SEE_DOCUMENT): S.DOCUMENT_SEEN,
    (S.DOCUMENT_SEEN, A.APOSTILLE): S.APOSTILLED,
    (S.SELF_DECLARED, A.VERIFY_WITH_ISSUER): S.VERIFIED_WITH_ISSUER,
    (S.DOCUMENT_SEEN, A.VERIFY_WITH_ISSUER): S.VERIFIED_WITH_ISSUER,
    (S.APOSTILLED, A.VERIFY_WITH_ISSUER): S.VERIFIED_WITH_ISSUER,
    (S.DOCUMENT_SEEN, A.RECOGNISE): S.RECOGNISED,
    (S.APOSTILLED, A.RECOGNISE): S.RECOGNISED,
    (S.VERIFIED_WITH_ISSUER, A.RECOGNISE): S.RECOGNISED,
    (S.SELF_DECLARED, A.REJECT): S.REJECTED,
    (S.DOCUMENT_SEEN, A.REJECT): S.REJECTED,
    (S.APOSTILLED, A.REJECT): S.REJECTED,
    (S.VERIFIED_WITH_ISSUER, A.REJECT): S.REJECTED,
    (S.VERIFIED_WITH_ISSUER, A.SUSPEND): S.SUSPENDED,
    (S.RECOGNISED, A.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, A.REINSTATE): RESUME,
    (S.VERIFIED_WITH_ISSUER, A.REVOKE): S.REVOKED,
    (S.RECOGNISED, A.REVOKE): S.REVOKED,
    (S.SUSPENDED, A.REVOKE): S.REVOKED,
}

FINAL: frozenset[Status] = frozenset({S.REJECTED, S.REVOKED})
# States in which we vouch for the credential: a VC may be exported only from these.
VOUCHED: frozenset[Status] = frozenset({S.VERIFIED_WITH_ISSUER, S.RECOGNISED})
# States a suspended credential may return to.
RESUMABLE: frozenset[Status] = frozenset({S.VERIFIED_WITH_ISSUER, S.RECOGNISED})


@dataclass(frozen=True, slots=True)
class ActionRule:
    needs_reason: bool = False
    needs_recognition: bool = False
    authority: bool = False  # may also come from an authority (ministry system, inbound)


ACTION_RULES: Mapping[Action, ActionRule] = {
    A.SEE_DOCUMENT: ActionRule(),
    A.APOSTILLE: ActionRule(),
    A.VERIFY_WITH_ISSUER: ActionRule(authority=True),
    A.RECOGNISE: ActionRule(needs_recognition=True, authority=True),
    A.REJECT: ActionRule(needs_reason=True, authority=True),
    A.SUSPEND: ActionRule(needs_reason=True, authority=True),
    A.REINSTATE: ActionRule(needs_reason=True, authority=True),
    A.REVOKE: ActionRule(needs_reason=True, authority=True),
}


def allowed_actions(current: Status) -> list[Action]:
    return lifecycle.allowed_actions(TRANSITIONS, current)


def next_status(current: Status, action: Action, *, suspended_from: Status | None = None
                ) -> Status:
    """Where ``action`` takes a credential in state ``current``; 409 if it may not."""
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise lifecycle.not_allowed(TRANSITIONS, current, action)
    if isinstance(target, _Resume):
        if suspended_from not in RESUMABLE:
            raise lifecycle.not_allowed(TRANSITIONS, current, action)
        assert suspended_from is not None
        return suspended_from
    return target
