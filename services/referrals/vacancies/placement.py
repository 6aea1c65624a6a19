"""Openings and placements: what the referral workflow calls when an application ends in a
job, kept apart from the vacancy use cases so the workflow can import it without a cycle."""

from __future__ import annotations

from datetime import datetime

from services.referrals.vacancies.events import vacancy_event
from services.referrals.vacancies.models import Vacancy
from services.referrals.vacancies.repository import VacancyRepository
from services.referrals.vacancies.schemas import VacancyStatus
from shared.db import UnitOfWork


def settle_openings(v: Vacancy, now: datetime) -> None:
    """``filled`` when no opening remains; an added opening reopens a filled vacancy."""
    if v.status == VacancyStatus.OPEN and v.openings_remaining <= 0:
        v.status, v.filled_at = VacancyStatus.FILLED.value, now
    elif v.status == VacancyStatus.FILLED and v.openings_remaining > 0:
        v.status, v.filled_at = VacancyStatus.OPEN.value, None


async def fill_opening(uow: UnitOfWork, vacancy_id: str, now: datetime) -> None:
    """An application ended in a placement (its referral completed with an ``employment``
    outcome): one opening fewer, ``filled`` (and ``vacancy.filled``) when none remain. The
    row is locked (PostgreSQL) so two placements at once never take the same opening."""
    v = await VacancyRepository(uow.session).get(vacancy_id, for_update=True)
    if v is None or v.openings_remaining <= 0:
        return
    before = v.status
    v.openings_remaining -= 1
    settle_openings(v, now)
    v.updated_at = now
    await uow.session.flush()
    uow.emit(vacancy_event("vacancy.updated", v, {"changed_fields": ["openings_remaining"]}))
    if v.status != before and v.status == VacancyStatus.FILLED:
        uow.emit(vacancy_event("vacancy.filled", v))
