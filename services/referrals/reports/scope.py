"""Whose figures a caller may see: coordinators their regions (and those regions'
countries), admins everything, nobody else."""

from __future__ import annotations

from services.referrals.reports.queries import Filters
from shared.errors import Forbidden
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.regions import country_of

_OUTSIDE = Text("Ese filtro queda fuera de sus regiones.",
                "That filter is outside your regions.")
_NO_REGIONS = Text("Su identidad no tiene regiones asignadas.",
                   "Your identity has no regions assigned.")


def scope_of(identity: Identity, f: Filters) -> Filters:
    """Coordinators: their regions (and those regions' countries); admins: everything."""
    if identity.role is Role.ADMIN:
        return f
    if identity.role is not Role.COORDINATOR:
        raise Forbidden()
    if not identity.regions:
        raise Forbidden(_NO_REGIONS)
    if f.region is not None and f.region not in identity.regions:
        raise Forbidden(_OUTSIDE)
    if f.country is not None and f.country not in {country_of(r) for r in identity.regions}:
        raise Forbidden(_OUTSIDE)
    f.regions = frozenset(identity.regions)
    return f
