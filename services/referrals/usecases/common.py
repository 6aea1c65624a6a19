"""What the referrals use cases share: the role guards, loading a row the caller may see (or
404), the registry's consent check, cursor positions, the commit that turns a lost race into
409, and the response body of an idempotent write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from services.referrals.access import can_see_pathway, can_see_referral
from services.referrals.clients import ConsentAnswer, Registry
from services.referrals.errors import (
    ConcurrentWrite,
    NoReferralData,
    PathwayNotFound,
    ReferralNotFound,
    RoleNotAllowed,
)
from services.referrals.models import Pathway, PathwayStep, Programme, Provider, Referral
from services.referrals.repository import (
    PathwayRepository,
    ProgrammeRepository,
    ProviderRepository,
    ReferralRepository,
)
from services.referrals.workflow import ConsentCheck
from shared.authz import CASELOAD_ROLES
from shared.clock import as_utc
from shared.db import UnitOfWork
from shared.errors import InvalidCursor, ValidationFailed
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.pagination import CursorCodec
from shared.peers import Peers

NO_STORE = {"Cache-Control": "no-store"}


# --- who may -------------------------------------------------------------------------------
def require_admin(identity: Identity) -> None:
    """The catalogue is edited by administrators only (403)."""
    if identity.role is not Role.ADMIN:
        raise RoleNotAllowed(Text("Solo un administrador edita el catálogo.",
                                  "Only an administrator edits the catalogue."))


def require_caseload(identity: Identity) -> None:
    """Referrals and pathways are made by the referring side, for an organisation: an
    administrator reads no referral data, the other roles never refer (403)."""
    if identity.role is Role.ADMIN:
        raise NoReferralData()
    if identity.role not in CASELOAD_ROLES or identity.organisation_id is None:
        raise RoleNotAllowed()


def require_reader(identity: Identity) -> None:
    """Every role but the administrator reads referral data (scoped by ``access``)."""
    if identity.role is Role.ADMIN:
        raise NoReferralData()


async def load_visible_referral(uow: UnitOfWork, identity: Identity, referral_id: str
                                ) -> Referral:
    """The referral, if the caller may see it; else 404 (absent and out of scope alike)."""
    r = await ReferralRepository(uow.session).get(referral_id)
    if r is None or not can_see_referral(identity, r):
        raise ReferralNotFound()
    return r


async def load_visible_pathway(uow: UnitOfWork, identity: Identity, pathway_id: str
                               ) -> tuple[Pathway, list[PathwayStep]]:
    """The pathway and its steps, if the caller may see it; else 404."""
    repo = PathwayRepository(uow.session)
    p = await repo.get(pathway_id)
    steps = await repo.steps(pathway_id) if p else []
    if p is None or not can_see_pathway(identity, p, steps):
        raise PathwayNotFound()
    return p, steps


def consent_check(peers: Peers, identity: Identity) -> ConsentCheck:
    """Asks the registry, as ``identity``, whether the person consented to share with the
    provider's organisation for a referral (to this programme)."""
    registry = Registry(peers)

    async def check(profile_id: str, recipient: str, programme: str) -> ConsentAnswer | None:
        return await registry.consent(identity, profile_id, recipient=recipient,
                                      programme=programme)

    return check


async def load_route(uow: UnitOfWork, programme_id: str, provider_id: str,
                     region: str | None) -> tuple[Programme, Provider]:
    """The programme and the provider a referral goes to: both active, the provider
    delivering the programme in the person's region (else 422 naming the field; None: the
    region is checked later, with :func:`check_reach`)."""
    providers = ProviderRepository(uow.session)
    found = await providers.route(programme_id, provider_id)
    if found is None:  # which one is missing, for the problem's fields
        programme: Programme | None = await ProgrammeRepository(uow.session).get(programme_id)
        provider: Provider | None = await providers.get(provider_id)
        delivers = False
    else:
        programme, provider, delivers = found
    errors: list[tuple[str, Text]] = []
    if programme is None or not programme.active:
        errors.append(("programme_id", Text("Programa desconocido o inactivo",
                                            "Unknown or inactive programme")))
    if provider is None or not provider.active:
        errors.append(("provider_id", Text("Proveedor desconocido o inactivo",
                                           "Unknown or inactive provider")))
    if errors:
        raise ValidationFailed(errors)
    assert programme is not None and provider is not None
    if not delivers:
        raise ValidationFailed([("provider_id", Text(
            "El proveedor no ofrece este programa", "The provider does not deliver this "
                                                    "programme"))])
    if region is not None:
        check_reach(provider, region)
    return programme, provider


def check_reach(provider: Provider, region: str) -> None:
    """422 when ``provider`` does not serve the person's ``region``."""
    if region not in (provider.regions or []):
        raise ValidationFailed([("provider_id", Text(
            "El proveedor no atiende la región de la persona",
            "The provider does not serve the person's region"))])


# --- plumbing ------------------------------------------------------------------------------
def dumps(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def decode_position(cursors: CursorCodec, cursor: str | None, name: str,
                    filters: dict[str, Any], *, caller: Identity) -> tuple[datetime, str] | None:
    """A newest-first list's cursor: (created_at, id) of the last row of the previous page."""
    if not cursor:
        return None
    position = cursors.decode(cursor, name, filters, caller=caller)
    try:
        at, ident = position
        return datetime.fromisoformat(str(at)), str(ident)
    except (ValueError, TypeError):
        raise InvalidCursor() from None


def encode_position(cursors: CursorCodec, name: str, filters: dict[str, Any],
                    created_at: datetime, ident: str, *, caller: Identity) -> str:
    return cursors.encode(name, filters, [as_utc(created_at).isoformat(), ident],
                          caller=caller)


async def commit_or_conflict(uow: UnitOfWork) -> None:
    """Commit; a unique constraint another request won meanwhile is 409, not 500."""
    try:
        await uow.commit()
    except IntegrityError:
        raise ConcurrentWrite() from None
