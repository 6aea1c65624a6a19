"""Object-level authorisation, decided the same way in every service.

An object outside the caller's scope is reported as absent (404), never as forbidden: a 403
would confirm to a stranger that a refugee with that id is registered.
"""

from __future__ import annotations

from collections.abc import Collection

from shared.identity import Identity, Role

# Roles that act for their own organisation's caseload.
CASELOAD_ROLES = {Role.CASEWORKER, Role.COORDINATOR, Role.NGO_PARTNER}


def in_scope(
    identity: Identity,
    *,
    organisation_id: str | None,
    region: str | None = None,
    shared_with: Collection[str] = (),
) -> bool:
    """May this caller see an object owned by ``organisation_id`` in ``region``?

    Owned by the caller's organisation, or shared with it (by the person's consent), and —
    for callers restricted to regions — located in one of their regions.
    """
    org = identity.organisation_id
    if org is None:
        return False
    if organisation_id != org and org not in shared_with:
        return False
    return not (identity.regions and region is not None and region not in identity.regions)
