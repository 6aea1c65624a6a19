"""Queries of the referrals database (never commits: the use case owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.referrals.access import pathway_scope_clause, referral_scope_clause
from services.referrals.lifecycle import OPEN
from services.referrals.models import (
    Pathway,
    PathwayStep,
    Programme,
    Provider,
    ProviderProgramme,
    Referral,
    ReferralTransition,
)
from services.referrals.sla import overdue_clause
from shared.identity import Identity

OPEN_VALUES = [s.value for s in OPEN]


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(
        self, *, country: str | None, route_type: str | None, region: str | None,
        include_inactive: bool, after: str | None, limit: int,
    ) -> list[Programme]:
        q = select(Programme)
        if not include_inactive:
            q = q.where(Programme.active.is_(True))
        if country:
            q = q.where(Programme.country == country)
        if route_type:
            q = q.where(Programme.route_type == route_type)
        if after:
            q = q.where(Programme.id > after)
        q = q.order_by(Programme.id)
        if region is None:
            return list((await self.session.scalars(q.limit(limit))).all())
        # regions are a JSON list: the catalogue is small, filter here (same on every DB)
        out = []
        for p in (await self.session.scalars(q)).all():
            if region in (p.regions or []):
                out.append(p)
                if len(out) >= limit:
                    break
        return out

    async def get(self, programme_id: str) -> Programme | None:
        return await self.session.get(Programme, programme_id)

    async def all(self) -> list[Programme]:
        return list((await self.session.scalars(select(Programme))).all())

    async def existing_ids(self) -> set[str]:
        return set((await self.session.scalars(select(Programme.id))).all())

    async def count_existing(self, ids: Sequence[str]) -> set[str]:
        return set((await self.session.scalars(
            select(Programme.id).where(Programme.id.in_(list(ids))))).all())

    def add(self, programme: Programme) -> None:
        self.session.add(programme)


@dataclass
class ProviderRow:
    provider: Provider
    programme_ids: list[str]


class ProviderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def route(self, programme_id: str, provider_id: str
                    ) -> tuple[Programme, Provider, bool] | None:
        """The programme, the provider and whether the provider delivers the programme, in
        one statement (a referral's route: three round trips were one ninth of its post);
        None when either is missing."""
        delivers = select(ProviderProgramme.provider_id).where(
            ProviderProgramme.provider_id == Provider.id,
            ProviderProgramme.programme_id == Programme.id).exists()
        row = (await self.session.execute(
            select(Programme, Provider, delivers)
            .where(Programme.id == programme_id, Provider.id == provider_id))).first()
        return None if row is None else (row[0], row[1], bool(row[2]))

    async def programme_ids(self, provider_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {pid: [] for pid in provider_ids}
        if not provider_ids:
            return out
        rows = await self.session.execute(
            select(ProviderProgramme.provider_id, ProviderProgramme.programme_id)
            .where(ProviderProgramme.provider_id.in_(list(provider_ids)))
            .order_by(ProviderProgramme.programme_id))
        for provider_id, programme_id in rows.all():
            out[provider_id].append(programme_id)
        return out

    async def find(
        self, *, country: str | None, programme_id: str | None, region: str | None,
        organisation_id: str | None, include_inactive: bool, after: str | None, limit: int,
    ) -> list[ProviderRow]:
        q = select(Provider)
        if not include_inactive:
            q = q.where(Provider.active.is_(True))
        if country:
            q = q.where(Provider.country == country)
        if organisation_id:
            q = q.where(Provider.organisation_id == organisation_id)
        if programme_id:
            q = q.where(Provider.id.in_(select(ProviderProgramme.provider_id).where(
                ProviderProgramme.programme_id == programme_id)))
        if after:
            q = q.where(Provider.id > after)
        q = q.order_by(Provider.id)
        if region is None:
            providers = list((await self.session.scalars(q.limit(limit))).all())
        else:
            providers = []
            for p in (await self.session.scalars(q)).all():
                if region in (p.regions or []):
                    providers.append(p)
                    if len(providers) >= limit:
                        break
        ids = await self.programme_ids([p.id for p in providers])
        return [ProviderRow(p, ids[p.id]) for p in providers]

    async def get(self, provider_id: str, *, for_update: bool = False) -> Provider | None:
        if not for_update:
            return await self.session.get(Provider, provider_id)
        return (await self.session.scalars(
            select(Provider).where(Provider.id == provider_id).with_for_update())).first()

    async def active_serving(self, country: str) -> list[ProviderRow]:
        providers = list((await self.session.scalars(
            select(Provider).where(Provider.active.is_(True), Provider.country == country)
            .order_by(Provider.id))).all())
        ids = await self.programme_ids([p.id for p in providers])
        return [ProviderRow(p, ids[p.id]) for p in providers]

    async def set_programmes(self, provider_id: str, programme_ids: Sequence[str]) -> None:
        await self.session.execute(delete(ProviderProgramme).where(
            ProviderProgramme.provider_id == provider_id))
        self.session.add_all([ProviderProgramme(provider_id=provider_id, programme_id=p)
                              for p in programme_ids])

    async def existing_ids(self) -> set[str]:
        return set((await self.session.scalars(select(Provider.id))).all())

    def add(self, provider: Provider) -> None:
        self.session.add(provider)


@dataclass(frozen=True)
class ReferralFilters:
    status: str | None = None
    programme_id: str | None = None
    provider_id: str | None = None
    region: str | None = None
    profile_id: str | None = None
    pathway_id: str | None = None
    route_type: str | None = None
    overdue: bool | None = None
    at_risk: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.__dict__.items()}


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, referral_id: str) -> Referral | None:
        return await self.session.get(Referral, referral_id)

    async def find(self, *, identity: Identity, filters: ReferralFilters, now: datetime,
                   after: tuple[datetime, str] | None, limit: int) -> list[Referral]:
        q = select(Referral).where(referral_scope_clause(identity))
        f = filters
        for column, value in ((Referral.status, f.status),
                              (Referral.programme_id, f.programme_id),
                              (Referral.provider_id, f.provider_id),
                              (Referral.region, f.region), (Referral.profile_id, f.profile_id),
                              (Referral.pathway_id, f.pathway_id),
                              (Referral.route_type, f.route_type)):
            if value is not None:
                q = q.where(column == value)
        if f.overdue is not None:
            clause = overdue_clause(now)
            q = q.where(clause if f.overdue else ~clause)
        if f.at_risk is not None:
            flagged = and_(Referral.at_risk_reason.is_not(None),
                           Referral.status.in_(OPEN_VALUES))
            q = q.where(flagged if f.at_risk else ~flagged)
        if f.created_from is not None:
            q = q.where(Referral.created_at >= f.created_from)
        if f.created_to is not None:
            q = q.where(Referral.created_at < f.created_to)
        if after is not None:
            at, rid = after
            q = q.where(or_(Referral.created_at < at,
                            and_(Referral.created_at == at, Referral.id < rid)))
        q = q.order_by(Referral.created_at.desc(), Referral.id.desc()).limit(limit)
        return list((await self.session.scalars(q)).all())

    async def history(self, referral_id: str) -> list[ReferralTransition]:
        return list((await self.session.scalars(
            select(ReferralTransition).where(ReferralTransition.referral_id == referral_id)
            .order_by(ReferralTransition.id))).all())

    def add(self, referral: Referral) -> None:
        self.session.add(referral)

    def add_transition(self, row: ReferralTransition) -> None:
        self.session.add(row)

    async def open_count(self, provider_id: str) -> int:
        return int(await self.session.scalar(
            select(func.count()).select_from(Referral).where(
                Referral.provider_id == provider_id, Referral.status.in_(OPEN_VALUES))) or 0)

    async def open_for(self, profile_id: str, programme_id: str) -> Referral | None:
        """The person's open referral to the programme (applications to vacancies apart:
        they have their own key)."""
        return (await self.session.scalars(select(Referral).where(
            Referral.profile_id == profile_id, Referral.programme_id == programme_id,
            Referral.status.in_(OPEN_VALUES), Referral.vacancy_id.is_(None)))).first()

    async def statuses_by_programme(self, profile_id: str) -> dict[str, frozenset[str]]:
        rows = (await self.session.execute(
            select(Referral.programme_id, Referral.status)
            .where(Referral.profile_id == profile_id).distinct())).all()
        out: dict[str, set[str]] = {}
        for programme_id, status in rows:
            out.setdefault(programme_id, set()).add(status)
        return {k: frozenset(v) for k, v in out.items()}

    async def open_recognitions(self, *, credential_id: str, profile_id: str | None
                                ) -> list[Referral]:
        """Open degree-recognition referrals this credential's recognition completes: those
        naming the credential, and pathway steps of the person that name none."""
        about = Referral.credential_id == credential_id
        if profile_id is not None:
            about = or_(about, and_(Referral.credential_id.is_(None),
                                    Referral.pathway_id.is_not(None),
                                    Referral.profile_id == profile_id))
        return list((await self.session.scalars(
            select(Referral).where(Referral.route_type == "degree_recognition",
                                   Referral.status.in_(OPEN_VALUES), about)
            .order_by(Referral.created_at))).all())

    async def of_profile(self, profile_id: str) -> list[Referral]:
        return list((await self.session.scalars(
            select(Referral).where(Referral.profile_id == profile_id)
            .order_by(Referral.created_at))).all())

    async def forget_reasons(self, referral_ids: Sequence[str]) -> None:
        if referral_ids:
            await self.session.execute(
                update(ReferralTransition)
                .where(ReferralTransition.referral_id.in_(list(referral_ids)))
                .values(reason=None).execution_options(synchronize_session=False))

    async def move_profile(self, from_id: str, to_id: str) -> int:
        return await self._reassign(from_id, profile_id=to_id)

    async def move_profile_region(self, profile_id: str, region: str) -> int:
        return await self._reassign(profile_id, region=region)

    async def _reassign(self, person: str, /, **values: str) -> int:
        """Set ``values`` on the person's referrals and pathways where they differ."""
        moved = 0
        for model in (Referral, Pathway):
            result = await self.session.execute(
                update(model).where(model.profile_id == person,
                                    *(getattr(model, k) != v for k, v in values.items()))
                .values(**values).execution_options(synchronize_session=False))
            moved += int(getattr(result, "rowcount", 0) or 0)
        return moved

class PathwayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, pathway_id: str) -> Pathway | None:
        return await self.session.get(Pathway, pathway_id)

    async def steps(self, pathway_id: str) -> list[PathwayStep]:
        return list((await self.session.scalars(
            select(PathwayStep).where(PathwayStep.pathway_id == pathway_id)
            .order_by(PathwayStep.position))).all())

    async def steps_of(self, pathway_ids: Sequence[str]) -> dict[str, list[PathwayStep]]:
        out: dict[str, list[PathwayStep]] = {pid: [] for pid in pathway_ids}
        if pathway_ids:
            for s in (await self.session.scalars(
                    select(PathwayStep).where(PathwayStep.pathway_id.in_(list(pathway_ids)))
                    .order_by(PathwayStep.pathway_id, PathwayStep.position))).all():
                out[s.pathway_id].append(s)
        return out

    async def referral_statuses(self, referral_ids: Sequence[str]) -> dict[str, str]:
        if not referral_ids:
            return {}
        rows = await self.session.execute(
            select(Referral.id, Referral.status).where(Referral.id.in_(list(referral_ids))))
        return {rid: status for rid, status in rows.all()}

    async def find(self, *, identity: Identity, profile_id: str | None, status: str | None,
                   template: str | None, after: tuple[datetime, str] | None, limit: int
                   ) -> list[Pathway]:
        q = select(Pathway).where(pathway_scope_clause(identity))
        if profile_id is not None:
            q = q.where(Pathway.profile_id == profile_id)
        if status is not None:
            q = q.where(Pathway.status == status)
        if template is not None:
            q = q.where(Pathway.template == template)
        if after is not None:
            at, pid = after
            q = q.where(or_(Pathway.created_at < at,
                            and_(Pathway.created_at == at, Pathway.id < pid)))
        q = q.order_by(Pathway.created_at.desc(), Pathway.id.desc()).limit(limit)
        return list((await self.session.scalars(q)).all())

    async def live_of_profile(self, profile_id: str) -> list[Pathway]:
        return list((await self.session.scalars(select(Pathway).where(
            Pathway.profile_id == profile_id,
            Pathway.status.in_(["active", "on_hold"])))).all())

    def add(self, pathway: Pathway) -> None:
        self.session.add(pathway)

    def add_step(self, step: PathwayStep) -> None:
        self.session.add(step)

