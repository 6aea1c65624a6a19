"""Recommendations: which routes fit a person, with reasons and missing requirements (the
rules are data: ``rules.py``, ``recommendation_rules.json``)."""

from __future__ import annotations

from datetime import date

from services.referrals.clients import Credentials, Registry, facts_of
from services.referrals.eligibility import ProgrammeInfo, Recommendation, recommend
from services.referrals.errors import ProfileNotFound
from services.referrals.models import Programme
from services.referrals.repository import (
    ProgrammeRepository,
    ProviderRepository,
    ProviderRow,
    ReferralRepository,
)
from services.referrals.rules import RuleSet
from services.referrals.schemas.recommendations import (
    BlockedByOut,
    FindingOut,
    ProgrammeRef,
    RecommendationOut,
    RecommendationsOut,
)
from services.referrals.usecases.common import require_caseload
from shared.clock import utcnow
from shared.db import Database
from shared.i18n import Lang, current_language
from shared.identity import Identity
from shared.peers import Peers
from shared.regions import country_of
from shared.work_authorisation import today_in


async def recommendations(*, db: Database, peers: Peers, identity: Identity, rules: RuleSet,
                          profile_id: str, today: date | None = None) -> RecommendationsOut:
    """Which routes fit this person, in order, with reasons and missing requirements. The
    person is read from the registry and their credentials from the credentials service, as
    the caller: what the caller may not see is not found."""
    require_caseload(identity)
    profile = await Registry(peers).profile(identity, profile_id, gone_as_absent=False)
    if profile is None:
        raise ProfileNotFound()
    credentials = await Credentials(peers).of_profile(identity, profile_id)
    country = country_of(str(profile["region"]))
    async with db.uow() as uow:
        statuses = await ReferralRepository(uow.session).statuses_by_programme(profile_id)
        programmes = {p.id: p for p in await ProgrammeRepository(uow.session).all()}
        serving = await ProviderRepository(uow.session).active_serving(country)
    now = utcnow()
    # documents lapse, and ages turn, by the day in the person's country
    facts = facts_of(profile, credentials, statuses, today or today_in(country, now))
    infos = {p.id: ProgrammeInfo(p.id, p.country, list(p.regions or []), p.active)
             for p in programmes.values()}
    lang = current_language()
    items = [_recommendation_out(order, rec, programmes[rec.programme_id], serving,
                                 facts.region, lang)
             for order, rec in enumerate(recommend(rules, facts, infos), start=1)]
    return RecommendationsOut(profile_id=profile_id, rules_version=rules.version,
                              generated_at=now, items=items)


def _recommendation_out(order: int, rec: Recommendation, p: Programme,
                        serving: list[ProviderRow], region: str, lang: Lang
                        ) -> RecommendationOut:
    """One route as shown: texts in the request's language, and the active providers that
    deliver it where the person lives."""
    return RecommendationOut(
        order=order,
        programme=ProgrammeRef(id=p.id, name=p.name_en if lang == "en" else p.name,
                               route_type=p.route_type, country=p.country),
        relevant=rec.relevant, eligible=rec.eligible, score=rec.score,
        reasons=[FindingOut(code=f.code, message=f.text.render(lang)) for f in rec.reasons],
        missing=[FindingOut(code=f.code, message=f.text.render(lang)) for f in rec.missing],
        referral_status=rec.referral_status,
        blocked_by=None if rec.blocked_by is None else BlockedByOut(
            programme_id=rec.blocked_by.programme_id, code=rec.blocked_by.code,
            message=rec.blocked_by.text.render(lang)),
        provider_ids=[row.provider.id for row in serving
                      if p.id in row.programme_ids
                      and region in (row.provider.regions or [])])
