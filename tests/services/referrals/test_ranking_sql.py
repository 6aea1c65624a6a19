"""Issue 20 item 5: the engine and its SQL twin (``matching/ranking_sql.py``) agree. Random
people and vacancies — credentials of every kind and status, documents lapsing on either side
of the day asked, experience, languages, occupations at every distance — are ranked by the
database (the statements the endpoints run) and by the pure engine over everyone; the order,
the counts of blocked and missing requirements, the occupation tier and the years must be
the same, on SQLite and on PostgreSQL. A twin that drifts from the engine fails here."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.referrals.matching.engine import PersonFacts, rank_candidates, rank_vacancies
from services.referrals.matching.facts import person_facts, vacancy_facts
from services.referrals.matching.models import MatchPerson
from services.referrals.matching.projection import store
from services.referrals.matching.ranking_sql import candidates_statement, vacancies_statement
from services.referrals.matching.rules import load_matching_rules
from services.referrals.models import ProviderProgramme
from services.referrals.vacancies.models import Vacancy
from shared.db import Database

DAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 15, tzinfo=UTC)
ORG = "mtpe-empleo"
RULES = load_matching_rules()
# occupations at every distance from each other: same unit, minor, sub-major group, other
CODES = ["2221", "2222", "2212", "2211", "3221", "3222", "2264", "5223", "5222", "9112"]
FIELDS = ["09", "091", "0913", "0912", "0611", None]
STATUSES = ["recognised", "verified_with_issuer", "self_declared", "document_seen",
            "apostilled", "suspended", "rejected", "revoked"]
KINDS = ["academic_degree", "professional_licence", "skills_certification"]
REGIONS = ["PE-LMA", "PE-CUS", "PE-ARE"]


def _when(rng: random.Random) -> str | None:
    return rng.choice([None, (DAY + timedelta(days=rng.choice([-400, -1, 0, 1, 90])))
                       .isoformat()])


def _person(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "status": "active", "country": "PE", "region": rng.choice(REGIONS),
        "initials": "A. B.",
        "occupations": rng.sample(CODES, rng.choice([0, 1, 1, 2])),
        "experience": [{"isco": c, "years": rng.randrange(0, 8)}
                       for c in rng.sample(CODES, rng.choice([0, 0, 1, 2]))],
        "years_experience": rng.choice([None, 0, 2, 6]),
        "languages": rng.choice([None, [], ["es"], ["es", "en"], ["pt"]]),
        "documents": [{"type": rng.choice(["pe_cpp", "pe_ptp", "ve_pasaporte",
                                           "ec_visa_virte"]),
                       "expiry_date": _when(rng),
                       "authorises_work": rng.choice([None, True, False])}
                      for _ in range(rng.choice([0, 1, 1, 2]))],
        "credentials": [{"id": f"c-{i}-{k}", "kind": rng.choice(KINDS),
                         "status": rng.choice(STATUSES),
                         "field_isced": rng.choice(FIELDS),
                         "occupation_isco": rng.choice([*CODES, "222", None]),
                         "issuer_country": rng.choice(["PE", "VE", "EC"]),
                         "expires_on": rng.choice([None, None, _when(rng)])}
                        for k in range(rng.choice([0, 1, 2, 3]))],
        "job_matching": [{"organisation_id": ORG, "valid_until": None}],
    }


def _requirements(rng: random.Random) -> dict[str, Any]:
    field = rng.choice(FIELDS[:-1])
    return {
        "work_authorisation": rng.random() < 0.5,
        **({"degree": {"field_isced": field}} if rng.random() < 0.4 else {}),
        **({"professional_licence": {"field_isced": rng.choice(FIELDS[:-1])}}
           if rng.random() < 0.3 else {}),
        "certified_skills": [{"occupation_isco": c} for c in rng.sample(
            ["2221", "222", "3221", "5223"], rng.choice([0, 0, 1, 2]))],
        "min_experience_years": rng.choice([0, 0, 1, 3]),
        "languages": [{"code": c} for c in rng.sample(["es", "en", "pt"],
                                                      rng.choice([0, 0, 1, 2]))],
    }


async def _seed(db: Database, seed: int, people: int, vacancies: int
                ) -> tuple[dict[str, PersonFacts], list[Vacancy]]:
    rng = random.Random(seed)
    async with db.uow() as uow:
        s = uow.session
        provider = (await s.scalars(select(ProviderProgramme.provider_id).where(
            ProviderProgramme.programme_id == "pe-empleo"))).first()
        facts: dict[str, PersonFacts] = {}
        for i in range(people):
            pid = f"twin-{seed}-{i:03d}"
            raw = _person(rng, i)
            await store(uow, pid, raw)
            row = await s.get(MatchPerson, pid)
            if row is not None:
                facts[pid] = person_facts(pid, row.facts, row.region, DAY)
        rows = []
        for j in range(vacancies):
            v = Vacancy(
                id=f"00000000-0000-4000-8000-{seed:04d}{j:08d}", organisation_id=ORG,
                programme_id="pe-empleo", provider_id=provider, title="Puesto",
                occupation_isco=rng.choice(CODES), country="PE", region=rng.choice(REGIONS),
                openings=1, openings_remaining=1, formal_contract=True, currency="PEN",
                valid_from=DAY - timedelta(days=5), valid_until=DAY + timedelta(days=30),
                status="open", requirements=_requirements(rng), flags=[], created_by="t",
                created_at=NOW, updated_at=NOW)
            s.add(v)
            rows.append(v)
        await uow.commit()
    return facts, rows


async def test_a_vacancys_candidates_are_ranked_alike(dbs: dict[str, Database]) -> None:
    db = dbs["referrals"]
    people, vacancies = await _seed(db, seed=7, people=160, vacancies=40)
    assert len(people) > 100
    compared = 0
    for v in vacancies:
        vf = vacancy_facts(v)
        async with db.uow() as uow:
            got = (await uow.session.execute(candidates_statement(
                rules=RULES, vacancy=vf, organisation_id=ORG, day=DAY, now=NOW,
                limit=1000))).all()
        want = rank_candidates(RULES, vf, people.values())
        assert [(r.profile_id, r.blocked, r.missing, r.tier, bool(r.same_region),
                 r.experience_years) for r in got] == [
            (m.person.profile_id, m.blocked, m.missing, m.tier, m.same_region,
             m.experience_years) for m in want], f"vacancy {v.requirements}"
        compared += len(want)
        if want:  # one person's position among all, as the single-candidate read asks
            target = want[len(want) // 2]
            async with db.uow() as uow:
                one = (await uow.session.execute(candidates_statement(
                    rules=RULES, vacancy=vf, organisation_id=ORG, day=DAY, now=NOW, limit=1,
                    profile_id=target.person.profile_id))).one()
            assert one.position == len(want) // 2 + 1
    assert compared > 500, "the random data must put many people within reach"


async def test_a_persons_vacancies_are_ranked_alike(dbs: dict[str, Database]) -> None:
    db = dbs["referrals"]
    people, vacancies = await _seed(db, seed=11, people=60, vacancies=160)
    facts = [vacancy_facts(v) for v in vacancies]
    compared = 0
    for person in people.values():
        statement = vacancies_statement(rules=RULES, person=person, day=DAY, limit=1000)
        want = rank_vacancies(RULES, person, facts)
        if statement is None:
            assert want == []
            continue
        async with db.uow() as uow:
            got = (await uow.session.execute(statement)).all()
        assert [(r.id, r.blocked, r.missing, r.tier, bool(r.same_region)) for r in got] == [
            (m.vacancy.id, m.blocked, m.missing, m.tier, m.same_region) for m in want], \
            f"person {person}"
        compared += len(want)
    assert compared > 500, "the random data must put many vacancies within reach"


async def test_a_lapsed_authorisation_and_an_expired_licence_count_on_the_day_asked(
        dbs: dict[str, Database]) -> None:
    """The projection keeps dates, not standings: the same rows judged a day later differ."""
    db = dbs["referrals"]
    person = {**_person(random.Random(1), 0), "region": "PE-LMA", "occupations": ["2221"],
              "documents": [{"type": "pe_cpp", "expiry_date": DAY.isoformat()}],
              "credentials": [{"id": "lic-1", "kind": "professional_licence",
                               "status": "verified_with_issuer", "occupation_isco": "2221",
                               "issuer_country": "PE", "expires_on": DAY.isoformat()}]}
    async with db.uow() as uow:
        await store(uow, "twin-day", person)
        await uow.commit()
    _, [v] = await _seed(db, seed=3, people=0, vacancies=1)
    v.requirements = {"work_authorisation": True, "professional_licence": {"field_isced": "0913"}}
    v.occupation_isco = "2221"
    vf = vacancy_facts(v)
    for day, blocked in ((DAY, 0), (DAY + timedelta(days=1), 2)):
        async with db.uow() as uow:
            got = (await uow.session.execute(candidates_statement(
                rules=RULES, vacancy=vf, organisation_id=ORG, day=day, now=NOW,
                limit=10))).all()
        assert [(r.profile_id, r.blocked) for r in got] == [("twin-day", blocked)]
