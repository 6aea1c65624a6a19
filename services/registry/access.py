"""Who may see a person's profile: the one visibility rule of the registry, in every form it is
needed, side by side so that they change together.

The rule. An identity sees a profile when it acts for an organisation, the profile lies in the
identity's regions (when the identity is limited to some), and either

* **owner** — the identity's organisation registered the person, and the identity is not a
  ``provider`` (a provider reads only what people shared with it); or
* **shared** — the person granted a ``referral`` consent naming the identity's organisation as
  recipient, neither withdrawn nor expired (no ``valid_until``, or one still ahead).

The profile's status (active, merged, erased) is not part of visibility: the use cases decide
what a visible merged or erased profile answers. Which roles may call at all is checked first
(``usecases.scope.require_role``): ``admin`` and ``ministry_system`` never read people's data.

The forms, each for the path that needs it:

1. :func:`access_of` — Python, for one profile already loaded with its consents: may see, why
   (owner or shared, and by which consent), and whether sensitive data may be shown.
2. :func:`visible_clause` and :func:`visible_clause_listed` — SQLAlchemy clauses for
   ``select(...).where(...)`` over ``profiles``: lists, search, duplicates.
3. :func:`visible_sql` and :func:`owner_sql` — the same as SQL text for the hot reads that run
   as one raw statement on the asyncpg pool (docs/decisions/0003); written here by hand, not
   compiled from (2), because those statements must stay byte-stable for asyncpg's prepared
   statement cache and use the driver's ``$n`` parameters.

``tests/services/registry/test_access_twin.py`` holds every form against the Python one over
roles, organisations, regions and consents, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select

from services.registry.models import consents_table, profiles_table
from services.registry.schemas.consents import WRITTEN_EVIDENCE, ConsentPurpose, ConsentStatus
from shared.clock import as_utc
from shared.identity import Identity, Permission, Role

P = profiles_table.c
C = consents_table.c

# The consent purpose that shares a profile with its named recipient.
SHARING_PURPOSE = ConsentPurpose.REFERRAL.value


@dataclass(frozen=True)
class Access:
    """How an identity may see one profile."""

    owner: bool  # its organisation registered the person (else: shared by consent)
    sensitive: bool  # sensitive data may be shown
    consent_id: str | None = None  # shared: the latest consent that shares it


# --- 1. Python --------------------------------------------------------------------------------
def region_allows(identity: Identity, region: str | None) -> bool:
    return not identity.regions or region in identity.regions


def owns(identity: Identity, profile: Any) -> bool:
    """The owner branch: the identity's organisation registered ``profile``, in its regions."""
    return (identity.organisation_id is not None and identity.role is not Role.PROVIDER
            and profile.organisation_id == identity.organisation_id
            and region_allows(identity, profile.region))


def may_be_shared(identity: Identity, profile: Any) -> bool:
    """Whether consents can still make ``profile`` visible (worth loading them)."""
    return identity.organisation_id is not None and region_allows(identity, profile.region)


def is_sharing_consent(c: Any, organisation_id: str, now: datetime) -> bool:
    """A granted, unexpired referral consent naming ``organisation_id`` as recipient."""
    return (c.purpose == SHARING_PURPOSE and c.status == ConsentStatus.GRANTED
            and c.recipient_organisation_id == organisation_id
            and (c.valid_until is None or as_utc(c.valid_until) > now))


def access_of(identity: Identity, profile: Any, consents: Iterable[Any], now: datetime
              ) -> Access | None:
    """How ``identity`` may see ``profile`` (row or object) given the person's ``consents``
    (all of them, or at least those naming the identity's organisation), or None: out of
    scope. A recipient sees sensitive data only with ``sensitive:read`` and a sharing consent
    that covers sensitive data in writing."""
    sensitive_perm = identity.has(Permission.SENSITIVE_READ)
    if owns(identity, profile):
        return Access(owner=True, sensitive=sensitive_perm)
    org = identity.organisation_id
    if org is None or not may_be_shared(identity, profile):
        return None
    sharing = [c for c in consents if is_sharing_consent(c, org, now)]
    if not sharing:
        return None
    covers = any(c.sensitive_data and c.evidence in WRITTEN_EVIDENCE for c in sharing)
    return Access(owner=False, sensitive=sensitive_perm and covers, consent_id=sharing[-1].id)


# --- 2. SQLAlchemy ----------------------------------------------------------------------------
def sharing_consent(org: str, now: datetime, profile_id: Any = None) -> ColumnElement[bool]:
    """A granted, unexpired referral consent naming ``org`` as recipient."""
    cond = and_(C.purpose == SHARING_PURPOSE, C.status == ConsentStatus.GRANTED.value,
                C.recipient_organisation_id == org,
                or_(C.valid_until.is_(None), C.valid_until > now))
    if profile_id is not None:
        cond = and_(cond, C.profile_id == profile_id)
    return cond


def _visible_given(identity: Identity, shared_cond: ColumnElement[bool]
                   ) -> ColumnElement[bool]:
    cond = shared_cond if identity.role is Role.PROVIDER else or_(
        P.organisation_id == identity.organisation_id, shared_cond)
    if identity.regions:
        cond = and_(cond, P.region.in_(sorted(identity.regions)))
    return cond


def visible_clause(identity: Identity, now: datetime) -> ColumnElement[bool]:
    """Visibility as a correlated EXISTS: cheap when another index drives the query
    (trigram candidates, a document number)."""
    org = identity.organisation_id
    if org is None:
        return false()
    return _visible_given(identity, exists().where(sharing_consent(org, now, P.id)))


def visible_clause_listed(identity: Identity, now: datetime, shared: list[str] | None
                          ) -> ColumnElement[bool]:
    """Visibility for a scan of the caseload (``shared`` from
    ``ProfileRepository.shared_profile_ids``: the ids shared with the organisation, or None
    when there are too many to list, and a subquery is used instead)."""
    org = identity.organisation_id
    if org is None:
        return false()
    shared_cond: ColumnElement[bool]
    if shared is None:
        shared_cond = P.id.in_(select(C.profile_id).where(sharing_consent(org, now)))
    elif shared:
        shared_cond = P.id.in_(shared)
    else:
        shared_cond = false()
    return _visible_given(identity, shared_cond)


# --- 3. SQL text for the raw asyncpg statements -----------------------------------------------
# Each takes the statement's own placeholders (``$6::varchar``...); the profile is ``p`` and a
# consent ``c``. Keep in step with sharing_consent and _visible_given above.
def region_sql(regions: str) -> str:
    """``regions``: a varchar[] placeholder, empty for an identity not limited to regions."""
    return f"(cardinality({regions}) = 0 OR p.region = ANY({regions}))"


def owner_sql(*, org: str, regions: str) -> str:
    """The owner branch alone (the caller is known not to be a provider)."""
    return f"p.organisation_id = {org} AND {region_sql(regions)}"


def visible_sql(*, org: str, provider: str, regions: str, now: str) -> str:
    """The whole rule; ``provider``: a boolean placeholder, the caller is a provider."""
    return (f"((NOT {provider} AND p.organisation_id = {org}) OR EXISTS (SELECT 1"
            f" FROM consents c WHERE c.profile_id = p.id AND c.purpose = '{SHARING_PURPOSE}'"
            f" AND c.status = '{ConsentStatus.GRANTED.value}'"
            f" AND c.recipient_organisation_id = {org}"
            f" AND (c.valid_until IS NULL OR c.valid_until > {now})))"
            f" AND {region_sql(regions)}")
