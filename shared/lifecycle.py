"""What every closed-loop lifecycle here shares (referrals, credentials): a transition table
``(state, action) → state``, the actions it allows now, and one 409 for the rest that tells
the caller where the object is and what it may do instead."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from shared.errors import Conflict
from shared.i18n import Text

S = TypeVar("S", bound=Enum)
A = TypeVar("A", bound=Enum)


class TransitionNotAllowed(Conflict):
    code = "invalid-transition"
    detail_text = Text("La acción «{action}» no es posible en el estado «{status}».",
                       "The action '{action}' is not possible in state '{status}'.")


def allowed_actions(transitions: Mapping[tuple[S, A], Any], current: S) -> list[A]:
    """The actions the table allows from ``current``, in the table's order."""
    return [a for (s, a) in transitions if s is current]


def not_allowed(transitions: Mapping[tuple[S, A], Any], current: S, action: A
                ) -> TransitionNotAllowed:
    return TransitionNotAllowed(
        action=action.value, status=current.value,
        extra={"status_now": current.value,
               "allowed_actions": [a.value for a in allowed_actions(transitions, current)]})
