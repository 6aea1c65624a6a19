"""The visibility rule's forms held together (services/registry/access.py).

A grid of profiles — two owning organisations × two regions × consent cases (none; a referral
grant to a third organisation: open-ended, still valid, expired, withdrawn, refused; other
purposes naming it; a grant to the owner itself; one covering sensitive data; one to the other
owner) — is seen by every identity of roles × organisations (owner, other owner, recipient,
none) × regions (all, one that holds profiles, one that holds none). For each identity the
Python verdict (``access_of`` over the person's consents, and ``load_access`` as the use cases
call it) must equal "the SQL form selects this profile", for each SQL form: the correlated
EXISTS clause, the listed and subquery clauses, and on PostgreSQL the text fragments of the raw
hot reads. Changing one form alone fails here.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.registry.access import (
    access_of,
    owner_sql,
    owns,
    visible_clause,
    visible_clause_listed,
    visible_sql,
)
from services.registry.crypto import SensitiveCipher
from services.registry.models import profiles_table
from services.registry.repository import ProfileRepository
from services.registry.schemas import ProfileCreate
from services.registry.usecases.registration import prepare
from services.registry.usecases.scope import load_access
from shared.clock import utcnow
from shared.db import Database, driver_connection
from shared.identity import Identity, Permission, Role
from shared.models import new_id
from tests.support.databases import IS_POSTGRES
from tests.support.payloads import profile_payload

P = profiles_table.c
OWNERS = ("org-a", "org-b")
RECIPIENT = "org-c"
REGIONS = ("PE-LMA", "PE-CAL")

# (purpose, status, recipient: "c" the third organisation, "self" the owner, "other" the other
# owner, valid_until: None, "future" or "past", sensitive) — each a list: one profile's consents
CASES: dict[str, list[tuple[str, str, str, str | None, bool]]] = {
    "none": [],
    "granted": [("referral", "granted", "c", None, False)],
    "granted-valid": [("referral", "granted", "c", "future", False)],
    "granted-expired": [("referral", "granted", "c", "past", False)],
    "withdrawn": [("referral", "withdrawn", "c", None, False)],
    "refused": [("referral", "refused", "c", None, False)],
    "other-purposes": [("contact", "granted", "c", None, False),
                       ("credential_sharing", "granted", "c", None, False),
                       ("statistics", "granted", "c", None, False)],
    "granted-to-owner": [("referral", "granted", "self", None, False)],
    "granted-sensitive": [("referral", "granted", "c", "future", True)],
    "granted-to-other-owner": [("referral", "granted", "other", None, False)],
    "expired-then-granted": [("referral", "granted", "c", "past", False),
                             ("referral", "granted", "c", None, False)],
}

ROLES = (Role.CASEWORKER, Role.COORDINATOR, Role.NGO_PARTNER, Role.PROVIDER)
ORGS = ("org-a", "org-b", RECIPIENT, None)
SCOPES: tuple[frozenset[str], ...] = (frozenset(), frozenset({"PE-LMA"}),
                                      frozenset({"PE-CUS"}))
IDENTITIES = [
    Identity(subject=f"{role.value}-{org}-{'-'.join(sorted(regions)) or 'all'}", role=role,
             organisation_id=org, regions=regions,
             permissions=frozenset({Permission.SENSITIVE_READ.value}))
    for role, org, regions in itertools.product(ROLES, ORGS, SCOPES)
]


def _consent(profile_id: str, owner: str, now: datetime,
             spec: tuple[str, str, str, str | None, bool], i: int) -> dict[str, Any]:
    purpose, status, to, until, sensitive = spec
    recipient = {"c": RECIPIENT, "self": owner,
                 "other": next(o for o in OWNERS if o != owner)}[to]
    valid_until = {None: None, "future": now + timedelta(days=30),
                   "past": now - timedelta(days=1)}[until]
    return {"id": new_id(), "profile_id": profile_id, "purpose": purpose,
            "recipient_organisation_id": recipient, "programme_id": None, "status": status,
            "sensitive_data": sensitive, "evidence": "written", "evidence_reference": None,
            "witnessed_by": None, "valid_until": valid_until, "recorded_by": "seed",
            "recorded_by_organisation_id": owner, "recorded_at": now + timedelta(seconds=i),
            "withdrawn_at": now if status == "withdrawn" else None,
            "withdrawn_by": "seed" if status == "withdrawn" else None, "version": 1}


async def _grid(db: Database, now: datetime) -> list[str]:
    """One profile per owner × region × consent case; their ids."""
    cipher = SensitiveCipher({"k": bytes(32)}, "k")
    profiles: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    for owner, region, specs in itertools.product(OWNERS, REGIONS, CASES.values()):
        seeder = Identity(subject="seed", role=Role.CASEWORKER, organisation_id=owner)
        data = ProfileCreate.model_validate(profile_payload(region=region, documents=[],
                                                            consents=[]))
        prep = prepare(seeder, data, cipher, now)
        profiles.append(prep.profile)
        consents += [_consent(prep.profile["id"], owner, now - timedelta(hours=1), s, i)
                     for i, s in enumerate(specs)]
    async with db.uow() as uow:
        await ProfileRepository(uow.session).insert_many(profiles, [], consents)
        await uow.commit()
    return [p["id"] for p in profiles]


async def _selected(repo: ProfileRepository, form: str, identity: Identity, now: datetime,
                    ids: list[str]) -> set[str]:
    """The grid profiles that ``form`` of the rule selects for ``identity``."""
    if form.startswith("raw"):
        conn = await driver_connection(repo.session)
        if form == "raw-visible":
            sql = ("SELECT p.id FROM profiles p WHERE p.id = ANY($4::varchar[]) AND "
                   + visible_sql(org="$1::varchar", provider="$2::boolean",
                                 regions="$3::varchar[]", now="$5::timestamptz"))
            rows = await conn.fetch(sql, identity.organisation_id,
                                    identity.role is Role.PROVIDER, sorted(identity.regions),
                                    ids, now)
        else:
            sql = ("SELECT p.id FROM profiles p WHERE p.id = ANY($3::varchar[]) AND "
                   + owner_sql(org="$1::varchar", regions="$2::varchar[]"))
            rows = await conn.fetch(sql, identity.organisation_id, sorted(identity.regions),
                                    ids)
        return {r["id"] for r in rows}
    if form == "exists":
        clause = visible_clause(identity, now)
    else:
        org = identity.organisation_id
        shared = (await repo.shared_profile_ids(org, now) if org else []) \
            if form == "listed" else None
        clause = visible_clause_listed(identity, now, shared)
    rows = await repo.session.execute(select(P.id).where(P.id.in_(ids), clause))
    return set(rows.scalars().all())


@pytest.mark.parametrize("form", [
    "exists", "listed", "subquery",
    pytest.param("raw-visible", marks=pytest.mark.postgres_only),
    pytest.param("raw-owner", marks=pytest.mark.postgres_only),
])
async def test_python_rule_and_its_sql_twins_agree(form: str, dbs: dict[str, Database]
                                                   ) -> None:
    assert form in ("exists", "listed", "subquery") or IS_POSTGRES
    db = dbs["registry"]
    now = utcnow()
    ids = await _grid(db, now)
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        profiles = [await repo.get(pid) for pid in ids]
        consents = {pid: await repo.consents_of(pid) for pid in ids}
        seen_any = shared_any = False
        for identity in IDENTITIES:
            if form == "raw-owner" and (identity.role is Role.PROVIDER
                                        or identity.organisation_id is None):
                continue  # the owner fragment serves only the owner's own read
            selected = await _selected(repo, form, identity, now, ids)
            for p in profiles:
                assert p is not None
                access = access_of(identity, p, consents[p.id], now)
                python = owns(identity, p) if form == "raw-owner" else access is not None
                assert python == (p.id in selected), (form, identity.subject, p.id)
                assert (await load_access(repo, identity, p, now) is not None) == \
                    (access is not None), (identity.subject, p.id)
                seen_any |= access is not None
                shared_any |= access is not None and not access.owner
        assert seen_any and (shared_any or form == "raw-owner")  # the grid is not vacuous
