"""Who may see and do what in the referrals service: every rule in both its forms, side by
side, so a change to one is made to the other in the same place.

* A referral: the referring side (``caseworker``, ``coordinator``, ``ngo_partner``) sees the
  referrals its organisation made; the provider side (``provider``, ``ministry_system``) the
  referrals addressed to its organisation; either only in the caller's regions when it has
  any. ``system`` (this service's own event handlers) sees every referral; ``admin`` none.
* A pathway: the referring side sees its organisation's pathways; a ``provider`` the
  pathways with a step it has been sent a referral for; in the caller's regions. ``system``
  sees every pathway; ``ministry_system`` and ``admin`` none.

Each rule is a Python check (one row already loaded: :func:`can_see_referral`,
:func:`can_see_pathway`) and an SQL clause (lists: :func:`referral_scope_clause`,
:func:`pathway_scope_clause`). ``tests/services/referrals/test_access_twin.py`` holds every
check against its twin over roles, organisations and regions, on SQLite and PostgreSQL.

A referral or pathway outside the caller's scope is 404, never 403 (``shared.authz``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, false, select, true
from sqlalchemy.orm import InstrumentedAttribute

from services.referrals.lifecycle import ACTION_RULES, Action, Side
from services.referrals.models import Pathway, PathwayStep, Referral
from shared.authz import CASELOAD_ROLES, in_scope
from shared.identity import Identity, Role

PROVIDER_SIDE = (Role.PROVIDER, Role.MINISTRY_SYSTEM)


# --- referrals ---------------------------------------------------------------------------------
def can_see_referral(identity: Identity, r: Referral) -> bool:
    """The referrals a caller may see (the same rule as :func:`referral_scope_clause`)."""
    if identity.role is Role.SYSTEM:
        return True
    if identity.role in CASELOAD_ROLES:
        owner = r.referring_organisation_id
    elif identity.role in PROVIDER_SIDE:
        owner = r.provider_organisation_id
    else:
        return False
    return in_scope(identity, organisation_id=owner, region=r.region)


def referral_scope_clause(identity: Identity) -> ColumnElement[bool]:
    """The referrals ``identity`` may see, as SQL (the same rule as :func:`can_see_referral`)."""
    if identity.role is Role.SYSTEM:
        return true()
    org = identity.organisation_id
    if org is None:
        return false()
    if identity.role in CASELOAD_ROLES:
        cond = Referral.referring_organisation_id == org
    elif identity.role in PROVIDER_SIDE:
        cond = Referral.provider_organisation_id == org
    else:
        return false()
    return _in_regions(identity, cond, Referral.region)


# --- pathways ----------------------------------------------------------------------------------
def can_see_pathway(identity: Identity, p: Pathway, steps: Sequence[PathwayStep]) -> bool:
    """The pathways a caller may see (the same rule as :func:`pathway_scope_clause`); ``steps``
    are the pathway's own."""
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


def pathway_scope_clause(identity: Identity) -> ColumnElement[bool]:
    """The pathways ``identity`` may see, as SQL (the same rule as :func:`can_see_pathway`)."""
    if identity.role is Role.SYSTEM:
        return true()
    org = identity.organisation_id
    if org is None:
        return false()
    if identity.role in CASELOAD_ROLES:
        cond = Pathway.organisation_id == org
    elif identity.role is Role.PROVIDER:
        cond = Pathway.id.in_(select(PathwayStep.pathway_id).where(
            PathwayStep.provider_organisation_id == org, PathwayStep.referral_id.is_not(None)))
    else:
        return false()
    return _in_regions(identity, cond, Pathway.region)


def _in_regions(identity: Identity, cond: ColumnElement[bool],
                region: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """``cond``, and for a caller restricted to regions, in one of them (``in_scope``'s
    region rule; the rows' region is never NULL)."""
    if identity.regions:
        return and_(cond, region.in_(sorted(identity.regions)))
    return cond


# --- acting ------------------------------------------------------------------------------------
def may_act(identity: Identity, action: Action) -> bool:
    """Whether the caller's role is on the side that takes ``action`` (the provider's side
    accepts, starts, completes…; the referring side cancels)."""
    side = ACTION_RULES[action].side
    if identity.role is Role.SYSTEM:
        return True
    if side is Side.PROVIDER:
        return identity.role in PROVIDER_SIDE
    return identity.role in CASELOAD_ROLES
