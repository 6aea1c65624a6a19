"""The visibility rules of ``services.referrals.access`` are written twice — a Python check
for one loaded row, an SQL clause for lists — and must never drift apart: a referral a caller
can read but not find in the list (or the reverse) is a leak or a hole. Over a grid of rows
(referring organisation × provider organisation × region; pathways by organisation × region
× which steps went to which provider and whether a referral was sent) and every identity
(role × organisation × regions), the Python verdict must equal "the SQL clause selects this
row", on whichever database the suite runs. Consent plays no part in these rules (it gates
making a referral, not seeing one), so it is not a dimension here."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.referrals.access import (
    can_see_pathway,
    can_see_referral,
    pathway_scope_clause,
    referral_scope_clause,
)
from services.referrals.models import Pathway, PathwayStep, Referral
from shared.db import Database
from shared.identity import Identity, Role
from shared.models import new_id

ORGS = ("org-a", "org-b", "org-c")
ROW_REGIONS = ("PE-LMA", "PE-CUS")
CALLER_ORGS = (*ORGS, None)
CALLER_REGIONS = (frozenset(), frozenset({"PE-LMA"}), frozenset({"PE-LMA", "PE-CAL"}),
                  frozenset({"PE-CUS"}), frozenset({"PE-CAL"}))
# each pathway's steps: (provider organisation, a referral was sent for the step)
STEP_PATTERNS = (
    (("org-a", True),),
    (("org-a", False),),
    (("org-b", True), ("org-a", False)),
    (("org-c", True), ("org-a", True)),
)
WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# any programme and provider of the seeded catalogue (the rows only need their keys)
PROGRAMME, PROVIDER = "pe-empleo", "mtpe-empleo"


def referral(referring: str, provider_org: str, region: str) -> Referral:
    return Referral(
        id=new_id(), profile_id=new_id(), profile_organisation_id=referring, region=region,
        country="PE", programme_id=PROGRAMME, route_type="employment",
        outcome_kind="employment", provider_id=PROVIDER,
        provider_organisation_id=provider_org, referring_organisation_id=referring,
        referring_subject="cw-1", status="requested", open_key=None, due_accept_at=WHEN,
        due_complete_at=WHEN, created_at=WHEN, updated_at=WHEN, version=1)


def pathway(org: str, region: str, pattern: tuple[tuple[str, bool], ...]
            ) -> tuple[Pathway, list[PathwayStep]]:
    p = Pathway(id=new_id(), profile_id=new_id(), profile_organisation_id=org, region=region,
                template="t", template_version=1, status="active", active_key=None,
                current_step=0, organisation_id=org, created_by="cw-1", created_at=WHEN,
                updated_at=WHEN, version=1)
    steps = [PathwayStep(pathway_id=p.id, position=i, programme_id=PROGRAMME,
                         provider_id=PROVIDER, provider_organisation_id=provider_org,
                         status="open" if sent else "pending",
                         referral_id=new_id() if sent else None, attempts=int(sent))
             for i, (provider_org, sent) in enumerate(pattern)]
    return p, steps


@pytest.mark.parametrize("role", list(Role))
async def test_python_check_equals_sql_clause(dbs: dict[str, Database], role: Role) -> None:
    referrals = [referral(referring, provider_org, region) for referring, provider_org, region
                 in itertools.product(ORGS[:2], ORGS, ROW_REGIONS)]
    pathways = [pathway(org, region, pattern) for org, region, pattern
                in itertools.product(ORGS[:2], ROW_REGIONS, STEP_PATTERNS)]
    referral_ids = [r.id for r in referrals]
    pathway_ids = [p.id for p, _ in pathways]
    async with dbs["referrals"].uow() as uow:
        uow.session.add_all([*referrals, *(p for p, _ in pathways)])
        await uow.session.flush()
        uow.session.add_all([s for _, steps in pathways for s in steps])
        await uow.session.flush()
        seen = {"referrals": 0, "pathways": 0}
        for org, regions in itertools.product(CALLER_ORGS, CALLER_REGIONS):
            who = Identity(subject="someone", role=role, organisation_id=org, regions=regions)
            selected = set((await uow.session.scalars(select(Referral.id).where(
                Referral.id.in_(referral_ids), referral_scope_clause(who)))).all())
            seen["referrals"] += len(selected)
            for r in referrals:
                assert can_see_referral(who, r) == (r.id in selected), (
                    who, "referral", r.referring_organisation_id, r.provider_organisation_id,
                    r.region)
            selected = set((await uow.session.scalars(select(Pathway.id).where(
                Pathway.id.in_(pathway_ids), pathway_scope_clause(who)))).all())
            for p, steps in pathways:
                assert can_see_pathway(who, p, steps) == (p.id in selected), (
                    who, "pathway", p.organisation_id, p.region,
                    [(s.provider_organisation_id, s.referral_id is not None) for s in steps])
            seen["pathways"] += len(selected)
    # the grid is not vacuous: each role sees rows somewhere, where it ought to see any
    expected = {"referrals": role is not Role.ADMIN,
                "pathways": role not in (Role.ADMIN, Role.MINISTRY_SYSTEM)}
    assert {k: v > 0 for k, v in seen.items()} == expected, (role, seen)
