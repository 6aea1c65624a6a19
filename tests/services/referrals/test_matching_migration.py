"""Issue 20 item 5: the upgrade to database-ranked matching (ref0010) loses nothing. A vacancy
and a consenting person kept before it are ranked after it: the vacancy's requirements are
flattened into its new columns, and the person gets her ranking rows and credentials from the
facts the projection already held."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import MetaData, Table, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from services.referrals.usecases.catalogue import seed_catalogue
from shared.db import Database
from shared.migrate import upgrade
from tests.support.databases import TempDatabases

BEFORE = "ref0008_report_rollups"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def test_vacancies_and_consenting_people_kept_before_are_ranked_after(
        tmp_path: Path) -> None:
    temp = TempDatabases(tmp_path, "migmatch")
    urls = await temp.create()
    url = urls["referrals"]
    try:
        await upgrade("referrals", url, BEFORE)
        db = Database(url)
        try:
            await seed_catalogue(db=db)  # as the service does at start-up
        finally:
            await db.dispose()
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                def fill(sync: object) -> None:
                    meta = MetaData()
                    t = {n: Table(n, meta, autoload_with=sync) for n in (  # type: ignore[arg-type]
                        "vacancies", "match_people", "match_consents", "provider_programmes")}
                    provider = sync.execute(  # type: ignore[attr-defined]
                        select(t["provider_programmes"].c.provider_id).where(
                            t["provider_programmes"].c.programme_id == "pe-empleo")).scalar()
                    sync.execute(insert(t["vacancies"]).values(  # type: ignore[attr-defined]
                        id="00000000-0000-4000-8000-000000000001", organisation_id="mtpe-empleo",
                        programme_id="pe-empleo", provider_id=provider, title="Enfermera",
                        occupation_isco="2221", country="PE", region="PE-LMA", openings=1,
                        openings_remaining=1, formal_contract=True, currency="PEN",
                        valid_from=date(2026, 11, 1), valid_until=date(2027, 1, 31),
                        status="open", flags=[], created_by="t", created_at=NOW,
                        updated_at=NOW, version=1,
                        requirements={"work_authorisation": True,
                                      "degree": {"field_isced": "0913"},
                                      "certified_skills": [{"occupation_isco": "2221"},
                                                           {"occupation_isco": "2221"}],
                                      "languages": [{"code": "es"}, {"code": "en"}],
                                      "min_experience_years": 2}))
                    sync.execute(insert(t["match_people"]).values(  # type: ignore[attr-defined]
                        profile_id="p-1", country="PE", region="PE-LMA", initials="M. G.",
                        years_experience=4, updated_at=NOW, facts={
                            "occupations": ["2221"], "experience": [{"isco": "2221",
                                                                     "years": 3}],
                            "languages": ["es"], "documents": [
                                {"type": "pe_cpp", "expiry_date": "2027-06-30"}],
                            "credentials": [{"id": "c-1", "kind": "academic_degree",
                                             "status": "recognised", "field_isced": "0913",
                                             "issuer_country": "VE"}]}))
                    sync.execute(insert(t["match_consents"]).values(  # type: ignore[attr-defined]
                        organisation_id="mtpe-empleo", profile_id="p-1",
                        valid_until=datetime(2036, 1, 1, tzinfo=UTC)))
                await conn.run_sync(fill)
            await upgrade("referrals", url)
            async with engine.connect() as conn:
                vacancy = (await conn.exec_driver_sql(
                    "SELECT req_work_authorisation, req_degree_field, req_skills, "
                    "req_skills_count, req_languages, req_languages_count, req_min_years "
                    "FROM vacancies")).one()
                rows = (await conn.exec_driver_sql(
                    "SELECT organisation_id, country, isco, profile_id, years, "
                    "years_experience, declared_experience, wa_until, languages "
                    "FROM match_candidates")).all()
                creds = (await conn.exec_driver_sql(
                    "SELECT credential_id, kind, status, field_isced, issuer_country "
                    "FROM match_credentials")).all()
        finally:
            await engine.dispose()
    finally:
        await temp.drop()
    assert tuple(vacancy) == (True, "0913", "|2221|", 1, "|en|es|", 2, 2)
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), str(r[7]), r[8]) for r in rows] \
        == [("mtpe-empleo", "PE", "2221", "p-1", 3, 4, True, "2027-06-30", "|es|")]
    assert [tuple(c) for c in creds] == [("c-1", "academic_degree", "recognised", "0913", "VE")]
