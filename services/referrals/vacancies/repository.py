"""Vacancy queries. Never commits: the use case owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.referrals.models import Programme, Provider, ProviderProgramme
from services.referrals.vacancies.access import vacancy_scope_clause
from services.referrals.vacancies.models import Vacancy
from shared.identity import Identity

EMPLOYMENT_ROUTE = "public_employment_service"


@dataclass(frozen=True)
class VacancyFilters:
    status: str | None = None
    region: str | None = None
    occupation: str | None = None  # ISCO-08 prefix, 1 to 4 digits
    organisation_id: str | None = None
    external_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class VacancyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, vacancy_id: str, *, for_update: bool = False) -> Vacancy | None:
        if not for_update:
            return await self.session.get(Vacancy, vacancy_id)
        return (await self.session.scalars(
            select(Vacancy).where(Vacancy.id == vacancy_id).with_for_update())).first()

    async def by_external_ids(self, organisation_id: str, external_ids: Sequence[str]
                              ) -> dict[str, Vacancy]:
        if not external_ids:
            return {}
        rows = await self.session.scalars(select(Vacancy).where(
            Vacancy.organisation_id == organisation_id,
            Vacancy.external_id.in_(sorted(set(external_ids)))))
        return {v.external_id: v for v in rows if v.external_id is not None}

    async def find(self, *, identity: Identity, filters: VacancyFilters,
                   after: tuple[datetime, str] | None, limit: int) -> list[Vacancy]:
        """Newest first, the caller's scope applied in SQL (``ix_vacancies_created``)."""
        q = select(Vacancy).where(vacancy_scope_clause(identity))
        if filters.status:
            q = q.where(Vacancy.status == filters.status)
        if filters.region:
            q = q.where(Vacancy.region == filters.region)
        if filters.occupation:
            q = q.where(Vacancy.occupation_isco.startswith(filters.occupation,
                                                           autoescape=True))
        if filters.organisation_id:
            q = q.where(Vacancy.organisation_id == filters.organisation_id)
        if filters.external_id:
            q = q.where(Vacancy.external_id == filters.external_id)
        if after is not None:
            q = q.where(tuple_(Vacancy.created_at, Vacancy.id) < tuple_(*after))
        q = q.order_by(Vacancy.created_at.desc(), Vacancy.id.desc()).limit(limit)
        return list(await self.session.scalars(q))

    async def expired_open(self, *, country: str, before: date, limit: int,
                           is_postgres: bool) -> list[Vacancy]:
        """Open vacancies of ``country`` whose last day is before ``before``
        (``ix_vacancies_status_valid_until``); locked on PostgreSQL, skipping rows another
        run holds, so replicas never close one twice."""
        q = (select(Vacancy)
             .where(Vacancy.status == "open", Vacancy.country == country,
                    Vacancy.valid_until < before)
             .order_by(Vacancy.valid_until, Vacancy.id).limit(limit))
        if is_postgres:
            q = q.with_for_update(skip_locked=True)
        return list(await self.session.scalars(q))

    def add(self, vacancy: Vacancy) -> None:
        self.session.add(vacancy)

    async def employment_routes(self, organisation_id: str
                                ) -> list[tuple[Provider, Programme]]:
        """The organisation's active providers of an active public employment service
        programme, by provider then programme id: where its vacancies are applied to."""
        rows = await self.session.execute(
            select(Provider, Programme)
            .join(ProviderProgramme, ProviderProgramme.provider_id == Provider.id)
            .join(Programme, Programme.id == ProviderProgramme.programme_id)
            .where(Provider.organisation_id == organisation_id, Provider.active.is_(True),
                   Programme.active.is_(True), Programme.route_type == EMPLOYMENT_ROUTE)
            .order_by(Provider.id, Programme.id))
        return [(p, g) for p, g in rows]
