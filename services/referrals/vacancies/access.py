"""Who sees and who edits a vacancy, in its Python and SQL forms side by side.

* Reading: the referring side (``caseworker``, ``coordinator``, ``ngo_partner``) sees every
  vacancy in its regions — vacancies are offers to refer people to, not personal data; the
  employment service (``provider``, ``ministry_system``) sees its own organisation's.
  ``system`` sees all; ``admin`` none (it reads no referral data).
* Writing: only the organisation that posted it (a ``provider`` or ``ministry_system`` of
  that organisation, in its regions).

Out of scope is 404, never 403 (``shared.authz``): another employment service cannot even
learn that a vacancy id exists.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, true

from services.referrals.vacancies.models import Vacancy
from shared.authz import CASELOAD_ROLES, in_scope
from shared.identity import Identity, Role

EMPLOYMENT_SERVICE_ROLES = (Role.PROVIDER, Role.MINISTRY_SYSTEM)


def can_see_vacancy(identity: Identity, v: Vacancy) -> bool:
    """The same rule as :func:`vacancy_scope_clause`."""
    if identity.role is Role.SYSTEM:
        return True
    if identity.organisation_id is None:
        return False
    if identity.role in CASELOAD_ROLES:
        return not identity.regions or v.region in identity.regions
    if identity.role in EMPLOYMENT_SERVICE_ROLES:
        return in_scope(identity, organisation_id=v.organisation_id, region=v.region)
    return False


def vacancy_scope_clause(identity: Identity) -> ColumnElement[bool]:
    """The vacancies ``identity`` may see, as SQL (the rule of :func:`can_see_vacancy`)."""
    if identity.role is Role.SYSTEM:
        return true()
    readers = (*CASELOAD_ROLES, *EMPLOYMENT_SERVICE_ROLES)
    if identity.organisation_id is None or identity.role not in readers:
        return false()
    conditions: list[ColumnElement[bool]] = []
    if identity.role in EMPLOYMENT_SERVICE_ROLES:  # its own organisation's only
        conditions.append(Vacancy.organisation_id == identity.organisation_id)
    if identity.regions:
        conditions.append(Vacancy.region.in_(sorted(identity.regions)))
    return and_(true(), *conditions)


def can_edit_vacancy(identity: Identity, v: Vacancy) -> bool:
    """Its own organisation's employment service (or the service itself)."""
    if identity.role is Role.SYSTEM:
        return True
    return identity.role in EMPLOYMENT_SERVICE_ROLES and in_scope(
        identity, organisation_id=v.organisation_id, region=v.region)
