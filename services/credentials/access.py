"""Who may do what with a credential, and who may see one — decided here, once.

Who may do what (the gateway's route policy comes first; this is the object-level rule):

- caseworker, coordinator, ngo_partner: add credentials to a person they may see, read them,
  move their verification state, export them as verifiable credentials. "May see" is the
  organisation and region the credential was filed under (copied from the profile), or else
  whatever the registry answers for the person (consent-based sharing is the registry's call).
- provider: reads only what the registry lets it see of the person; no writes.
- ministry_system / system: authority actions only (verify_with_issuer, recognise, reject,
  suspend, reinstate, revoke), through
  :func:`services.credentials.usecases.transitions.transition_credential` with
  ``authority=True`` — the entry point of inbound ministry callbacks (e.g. a SUNEDU
  decision), which the gateway authenticates by signature. Never through the public route.
- admin: no access to credential data (403), except suspending, reinstating or revoking a
  recognition.

A recognition (a ``recognised`` credential, or a ``suspended`` one that was recognised) is the
recognising authority's decision, not ours: only that organisation — recorded on the
credential when it recognised it, e.g. ``sunedu`` — through its provider or ministry
clients (the public route) or its signed callbacks (the authority entry point), and admins,
may suspend, reinstate or revoke it (:func:`require_recognition_authority`): lifting the
authority's suspension is as much its decision as making it. The caseload that sees the
credential gets 403. Every other transition keeps the rules above.

The "filed under" half of visibility has two forms, side by side below so they cannot drift
apart: :func:`in_caseload` (Python, for a credential already loaded) and
:func:`caseload_clause` (SQL, for ``select(Credential).where(...)``). The registry half is
asked only when the first says no (:func:`ensure_visible`), so a caseworker's own caseload
costs no call. ``tests/services/credentials/test_access_twin.py`` holds each form against the
other over role × organisation × region.

A credential filed without a region (none is: the registry requires a region, and a move
always names one) is in the caseload of callers not restricted to regions only; for a
restricted caller the registry answers, as it knows where the person is. (The SQL list always
read it so; the Python check used to let such a row through without asking.)
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, true

from services.credentials.clients import ProfileRef, Registry
from services.credentials.errors import (
    ActionNotForRole,
    CredentialNotFound,
    RecognitionAuthorityRequired,
)
from services.credentials.lifecycle import ACTION_RULES, Action, Status
from services.credentials.models import Credential
from services.credentials.repository import CredentialRepository
from shared.authz import CASELOAD_ROLES
from shared.db import Database
from shared.errors import Forbidden
from shared.identity import Identity, Role

AUTHORITY_ROLES = {Role.SYSTEM, Role.MINISTRY_SYSTEM}
# The actions on a recognition that are the recognising authority's alone.
RECOGNITION_DECISIONS = frozenset({Action.SUSPEND, Action.REINSTATE, Action.REVOKE})
# Roles through which an organisation speaks as a recognising authority.
RECOGNISING_ROLES = frozenset({Role.PROVIDER, Role.MINISTRY_SYSTEM})
# Roles that decide on any recognition (admins; a service acting on its own).
OVERSEER_ROLES = frozenset({Role.ADMIN, Role.SYSTEM})


# --- the caseload rule, in Python and in SQL ----------------------------------------------

def in_caseload(identity: Identity, *, organisation_id: str, region: str | None) -> bool:
    """Was a credential filed under ``organisation_id`` and ``region`` filed in this
    caller's caseload? (The twin of :func:`caseload_clause`.)"""
    if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
        return False
    if organisation_id != identity.organisation_id:
        return False
    return not identity.regions or region in identity.regions


def caseload_clause(identity: Identity) -> ColumnElement[bool]:
    """The credentials filed in this caller's caseload, as SQL. (The twin of
    :func:`in_caseload`; ``region IN (...)`` is never true for a NULL region.)"""
    if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
        return false()
    cond = Credential.organisation_id == identity.organisation_id
    if identity.regions:
        cond = and_(cond, Credential.region.in_(sorted(identity.regions)))
    return cond


# --- visibility of one credential ---------------------------------------------------------

async def ensure_visible(identity: Identity, credential: Credential, registry: Registry
                         ) -> ProfileRef | None:
    """404 unless the caller may see this credential's person. Returns the profile when the
    registry had to be asked (so a caller that needs it does not ask twice)."""
    if in_caseload(identity, organisation_id=credential.organisation_id,
                   region=credential.region):
        return None
    profile = await registry.profile(identity, credential.profile_id)
    if profile is None:
        raise CredentialNotFound()
    return profile


async def load_visible(*, db: Database, registry: Registry, identity: Identity,
                       credential_id: str) -> tuple[Credential, ProfileRef | None]:
    """The credential as it is now and, when the registry had to be asked, the profile.

    Read in a short transaction of its own that ends before the registry is asked: no
    connection (nor, for a write that follows, any lock) is held while a peer answers. A
    write re-reads the row in its own transaction."""
    async with db.uow() as uow:
        credential = await CredentialRepository(uow.session).get(credential_id)
    if credential is None:
        raise CredentialNotFound()
    return credential, await ensure_visible(identity, credential, registry)


async def list_scope(*, db: Database, registry: Registry, identity: Identity,
                     profile_id: str | None) -> ColumnElement[bool] | None:
    """What a list may show, as SQL: without ``profile_id`` the caller's caseload; with it,
    all of that person's credentials once the caller may see the person — filed in the
    caller's caseload, or visible to the caller in the registry. None: nothing (an empty
    page, never a 404 that would confirm the person exists)."""
    if profile_id is None:
        return caseload_clause(identity)
    async with db.uow() as uow:
        owner = await CredentialRepository(uow.session).owner_of_profile(profile_id)
    if owner is None:
        return None
    if in_caseload(identity, organisation_id=owner[0], region=owner[1]):
        return true()
    return true() if await registry.profile(identity, profile_id) is not None else None


# --- who may act --------------------------------------------------------------------------

def require_caseload(identity: Identity) -> None:
    """403 unless the caller works a caseload of its own organisation (writes, exports)."""
    if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
        raise Forbidden()


def require_reader(identity: Identity) -> None:
    """403 for the roles that never read credential data (admin; system is no caller)."""
    if identity.role in (Role.ADMIN, Role.SYSTEM):
        raise Forbidden()


def require_authority(identity: Identity, action: Action) -> None:
    """403 unless an authority (ministry or system) asks for an authority action."""
    if identity.role not in AUTHORITY_ROLES:
        raise Forbidden()
    if not ACTION_RULES[action].authority:
        raise ActionNotForRole(action=action.value)


def is_recognition(credential: Credential) -> bool:
    """Recognised, or suspended from recognised: the recognising authority's decision."""
    status = Status(credential.status)
    return status is Status.RECOGNISED or (
        status is Status.SUSPENDED and credential.suspended_from == Status.RECOGNISED.value)


def is_recognising_authority(identity: Identity, credential: Credential) -> bool:
    """An admin, or a provider or ministry caller of the organisation that recognised it."""
    if identity.role in OVERSEER_ROLES:
        return True
    return (identity.role in RECOGNISING_ROLES and identity.organisation_id is not None
            and identity.organisation_id == credential.recognising_organisation_id)


def recognition_decision(credential: Credential, action: Action) -> bool:
    """Is ``action`` on this credential the recognising authority's alone?"""
    return action in RECOGNITION_DECISIONS and is_recognition(credential)


def require_recognition_authority(identity: Identity, credential: Credential,
                                  action: Action) -> None:
    """403 when ``action`` suspends or revokes a recognition and the caller is not its
    recognising authority (nor an admin). Any other move passes: its own rules apply."""
    if recognition_decision(credential, action) \
            and not is_recognising_authority(identity, credential):
        raise RecognitionAuthorityRequired()
