"""The ``vacancy.*`` events: ids, occupation, place and state, never free text. The
candidates' side (matching) and the reports follow vacancies through them."""

from __future__ import annotations

from typing import Any

from services.referrals.vacancies.models import Vacancy
from shared.outbox import Event


def vacancy_event(kind: str, v: Vacancy, data: dict[str, Any] | None = None) -> Event:
    """Seen in the feed by the organisation that posted the vacancy."""
    return Event(type=kind, subject_type="vacancy", subject_id=v.id,
                 subject_version=v.version, organisation_id=v.organisation_id,
                 regions=[v.region],
                 data={"external_id": v.external_id, "occupation_isco": v.occupation_isco,
                       "country": v.country, "region": v.region, "status": v.status,
                       "openings": v.openings, "openings_remaining": v.openings_remaining,
                       "valid_until": v.valid_until.isoformat(), **(data or {})})
