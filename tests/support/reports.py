"""A seeded synthetic population driven through the public API (registry bulk import,
consents, referrals, provider transitions with outcomes, erasures, statistics oppositions),
the event hub run so the reports' projection is fed, and the expected figures computed here
in plain Python from what was generated."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, update

from ruta.embedded import create_embedded_app
from services.referrals.models import Referral, ReportPerson
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.referrals import documents
from tests.support.tokens import TokenFactory

DIMENSIONS = ("sex", "age_band", "nationality", "population_type", "region")


REGIONS = ("PE-LMA", "PE-CAL", "PE-CUS")


ORG = "ong-lima"


PROGRAMMES: dict[str, dict[str | None, str]] = {
    "pe-empleo": {"PE-LMA": "mtpe-empleo", "PE-CAL": "mtpe-empleo",
                  "PE-CUS": "mtpe-empleo-regiones"},
    "pe-certificacion-competencias": {"PE-LMA": "mtpe-empleo", "PE-CAL": "mtpe-empleo",
                                      "PE-CUS": "mtpe-empleo-regiones"},
    "pe-sunedu-reconocimiento": {None: "sunedu"},
    "pe-enam": {None: "aspefam-enam"},
    "pe-colegio-medico": {None: "colegio-medico-peru"},
    "pe-emprende-segura": {None: "oit-emprende-pe"},
}


KIND = {"pe-empleo": "employment", "pe-certificacion-competencias": "certification",
        "pe-sunedu-reconocimiento": "recognition", "pe-enam": "exam",
        "pe-colegio-medico": "licensing", "pe-emprende-segura": "entrepreneurship"}


PROVIDER_ORGS = sorted({p for m in PROGRAMMES.values() for p in m.values()})


WALKS: dict[str, list[str]] = {
    "requested": [], "accepted": ["accept"], "rejected": ["reject"],
    "in_progress": ["accept", "start"], "on_hold": ["accept", "start", "hold"],
    "completed": ["accept", "start", "complete"], "failed": ["accept", "start", "fail"],
    "cancelled": ["cancel"],
}


OPEN = {"requested", "accepted", "in_progress", "on_hold"}


GIVEN = ("Ana", "Luis", "María José", "Carlos", "Rosa", "Pedro", "Yuleisi", "Andrés")


SURNAMES = ("Gómez", "Pérez", "Rodríguez", "Hernández", "Blanco", "Díaz", "Rivas")


BANDS = ((18, "0-17"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (60, "45-59"))


def band_of(age: int) -> str:
    return next((label for upper, label in BANDS if age < upper), "60+")


def exact_band(birth: date, today: date) -> str:
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return band_of(age)


@dataclass
class Person:
    id: str
    sex: str
    birth: date
    nationality: str
    population_type: str
    region: str
    opt_out: bool = False
    erased: bool = False

    def dims(self, year: int, today: date) -> dict[str, str]:
        band = exact_band(self.birth, today) if self.erased else band_of(year - self.birth.year)
        return {"sex": self.sex, "age_band": band, "nationality": self.nationality,
                "population_type": self.population_type, "region": self.region}


@dataclass
class Ref:
    id: str
    person: Person
    programme: str
    provider: str
    status: str = "requested"
    created_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: dict[str, Any] | None = None
    overdue: bool = False
    etag: str = ""


@dataclass
class Population:
    people: list[Person] = field(default_factory=list)
    referrals: list[Ref] = field(default_factory=list)


@asynccontextmanager
async def report_client(dbs: dict[str, Database], tmp: Path, min_cell: int
                        ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_embedded_app(Settings(data_dir=tmp, report_min_cell=min_cell), dbs)
    async with app.router.lifespan_context(app), contract_client(app, timeout=60) as c:
        yield app, c


async def drain(app: FastAPI) -> None:
    """Relay every outbox into the feed and dispatch to the consuming services."""
    while await app.state.hub.run_once():
        pass


async def settle(app: FastAPI, dbs: dict[str, Database], pop: Population) -> None:
    """Drain the hub, then keep only this test's people in the projection: other tests
    commit people (and their events) to the suite's databases, which the hub may carry here
    too. Rolled back with the test."""
    await drain(app)
    async with dbs["referrals"].uow() as uow:
        await uow.session.execute(delete(ReportPerson).where(
            ReportPerson.profile_id.not_in([p.id for p in pop.people])))
        await uow.commit()


def outcome_for(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "employment":
        out: dict[str, Any] = {"type": "employment", "employer": "Empresa S.A.",
                               "job_title": "Técnico", "formal_contract": rng.random() < 0.6}
        if rng.random() < 0.8:
            out |= {"monthly_wage": rng.choice([1025, 1300, 1500.5, 2200, 3100]),
                    "currency": rng.choice(["PEN", "PEN", "USD"])}
            # the job's ISCO-08 occupation, by wage (draws nothing: the population stays)
            out["occupation_isco"] = {1025: "9112", 1300: "5223", 1500.5: "5120",
                                      2200: "3221", 3100: "2221"}[out["monthly_wage"]]
        return out
    if kind == "recognition":
        return {"type": "recognition", "resolution_number": "0123-2026-SUNEDU",
                "resolution_date": "2026-01-15"}
    if kind == "exam":
        return {"type": "exam", "exam_date": "2026-02-10", "score": 14.0}
    if kind == "licensing":
        return {"type": "licensing", "college_registration_number": "CMP 1"}
    if kind == "certification":
        return {"type": "certification", "competency_standard": "Cocina básica"}
    out = {"type": "entrepreneurship", "cohort": "Lima-2026-1",
           "modules_completed": rng.sample(["business_management", "financial_education",
                                            "sst"], rng.randint(0, 3)),
           "business_plan_presented": True, "formalised": rng.random() < 0.5}
    if rng.random() < 0.7:
        out |= {"seed_capital_amount": rng.choice([500, 1000, 1500.25]),
                "seed_capital_currency": rng.choice(["PEN", "USD"])}
    if rng.random() < 0.4:
        out |= {"microcredit_amount": rng.choice([800, 2000]),
                "microcredit_currency": "PEN", "microcredit_lender": "Caja"}
    return out


async def generate(c: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database], *,
                   seed: int, people: int, referral_share: float = 0.6,
                   regions: tuple[str, ...] = REGIONS) -> Population:
    rng = random.Random(seed)
    cw = auth("caseworker", org=ORG, regions=list(regions))
    pop = Population()
    items, drafts = [], []
    for _ in range(people):
        p = Person(id="", sex=rng.choices(["female", "male", "intersex"], [60, 38, 2])[0],
                   birth=date(rng.randint(1950, 2010), rng.randint(1, 12), rng.randint(1, 28)),
                   nationality=rng.choices(["VEN", "COL", "PER"], [85, 10, 5])[0],
                   population_type=rng.choice(["migrant", "refugee", "asylum_seeker",
                                               "host_community"]),
                   region=rng.choice(regions), opt_out=rng.random() < 0.08)
        consents = [{"purpose": "referral", "status": "granted", "recipient_organisation_id": o,
                     "evidence": "written", "evidence_reference": "F-1"}
                    for o in PROVIDER_ORGS]
        if p.opt_out:
            consents.append({"purpose": "statistics", "status": "refused",
                             "evidence": "written"})
        items.append({"given_names": rng.choice(GIVEN), "first_surname": rng.choice(SURNAMES),
                      "birth_date": p.birth.isoformat(), "sex": p.sex,
                      "nationality": p.nationality, "population_type": p.population_type,
                      "region": p.region, "documents": documents(), "consents": consents})
        drafts.append(p)
    for start in range(0, len(items), 500):
        resp = await c.post("/v1/profiles/bulk", json={"items": items[start:start + 500]},
                            headers=cw)
        assert resp.status_code in (200, 201), resp.text
        for r in resp.json()["results"]:
            assert r["status"] == "created", r
            drafts[start + r["index"]].id = r["id"]
    pop.people = drafts

    # some oppose statistics later (a consent refused after registration)
    for p in rng.sample(pop.people, max(1, people // 40)):
        if not p.opt_out:
            resp = await c.post(f"/v1/profiles/{p.id}/consents", headers=cw, json={
                "purpose": "statistics", "status": "refused", "evidence": "written"})
            assert resp.status_code == 201, resp.text
            p.opt_out = True

    for p in pop.people:
        if rng.random() > referral_share:
            continue
        for programme in rng.sample(sorted(PROGRAMMES), rng.randint(1, 2)):
            provider = PROGRAMMES[programme].get(p.region) or PROGRAMMES[programme][None]
            resp = await c.post("/v1/referrals", headers=cw, json={
                "profile_id": p.id, "programme_id": programme, "provider_id": provider})
            assert resp.status_code == 201, resp.text
            body = resp.json()
            ref = Ref(body["id"], p, programme, provider, etag=resp.headers["etag"],
                      created_at=datetime.fromisoformat(body["created_at"]))
            target = rng.choices(list(WALKS), [14, 8, 6, 8, 4, 40, 8, 12])[0]
            for action in WALKS[target]:
                extra: dict[str, Any] = {}
                if action in ("reject", "fail"):
                    extra["reason_code"] = "other"
                if action in ("reject", "fail", "hold", "cancel"):
                    extra["reason"] = "Motivo de prueba"
                if action == "complete":
                    extra["outcome"] = outcome_for(KIND[programme], rng)
                headers = cw if action == "cancel" else auth(
                    "provider", org=provider, subject=f"staff-{provider}", regions=list(regions))
                moved = await c.post(f"/v1/referrals/{ref.id}/transitions",
                                     json={"action": action, **extra},
                                     headers={**headers, "If-Match": ref.etag})
                assert moved.status_code == 200, moved.text
                ref.etag = moved.headers["etag"]
                done = moved.json()
                ref.status = done["status"]
                if done.get("closed_at"):
                    ref.closed_at = datetime.fromisoformat(done["closed_at"])
                ref.outcome = extra.get("outcome")
            pop.referrals.append(ref)

    # some open referrals are late (their deadline moved into the past)
    late = [r for r in pop.referrals if r.status in ("requested", "accepted", "in_progress")
            and rng.random() < 0.3]
    past = datetime.now(UTC) - timedelta(days=3)
    async with dbs["referrals"].uow() as uow:
        for r in late:
            await uow.session.execute(update(Referral).where(Referral.id == r.id).values(
                due_accept_at=past, due_complete_at=past))
            r.overdue = True
        await uow.commit()

    # some people cancel their data: their open referrals are cancelled, wages forgotten
    for p in rng.sample(pop.people, max(1, people // 20)):
        current = await c.get(f"/v1/profiles/{p.id}", headers=cw)
        assert current.status_code == 200, current.text
        resp = await c.delete(f"/v1/profiles/{p.id}",
                              headers={**cw, "If-Match": current.headers["etag"]})
        assert resp.status_code == 204, resp.text
        p.erased = True
        for r in pop.referrals:
            if r.person is p:
                if r.status in OPEN:
                    r.status, r.overdue = "cancelled", False
                if r.outcome and r.outcome["type"] == "employment":
                    r.outcome = {**r.outcome, "monthly_wage": None}
    return pop


Cells = dict[tuple[str, str | None, str | None], float]


def _referral_values(r: Ref, programmes: list[str]) -> dict[str, float]:
    """Every measure this referral contributes to: name → 1 (a count) or a value."""
    v: dict[str, float] = {"referrals": 1, f"referrals.status.{r.status}": 1}
    if r.programme in programmes:
        v[f"referrals.programme.{r.programme}"] = 1
    if r.overdue:
        v["referrals.overdue"] = 1
    if r.status != "completed":
        return v
    assert r.created_at is not None and r.closed_at is not None and r.outcome is not None
    v["days_to_completion.median"] = (r.closed_at - r.created_at).total_seconds() / 86400
    o = r.outcome
    kind = o["type"]
    simple = {"recognition": "degrees_recognised", "exam": "exams_passed",
              "licensing": "licences_obtained", "certification": "skills_certified"}
    if kind in simple:
        v[simple[kind]] = 1
    if kind == "employment":
        v["jobs"] = 1
        occupation = o.get("occupation_isco")
        v[f"jobs.isco_major.{occupation[0] if occupation else 'unknown'}"] = 1
        if o["formal_contract"]:
            v["jobs.formal_contract"] = 1
        if o.get("monthly_wage") is not None:
            v[f"jobs.wage.{o['currency']}"] = 1
            v[f"jobs.wage.{o['currency']}.median"] = float(o["monthly_wage"])
    if kind == "entrepreneurship":
        for k in ("seed_capital", "microcredit"):
            if o.get(f"{k}_amount") is not None:
                v[f"{k}.{o[f'{k}_currency']}"] = 1
                v[f"{k}.{o[f'{k}_currency']}.amount"] = float(o[f"{k}_amount"])
        for m in o["modules_completed"]:
            v[f"modules_completed.{m}"] = 1
    return v


def expected_cells(pop: Population, *, regions: set[str] | None = None,
                   programme: str | None = None) -> Cells:
    today = date.today()
    year = today.year
    programmes = sorted(PROGRAMMES) if programme is None else [programme]
    sums: dict[tuple[str, str | None, str | None], float] = defaultdict(float)
    medians: dict[tuple[str, str | None, str | None], list[float]] = defaultdict(list)

    def add(name: str, value: float, dims: dict[str, str]) -> None:
        for key in [(name, None, None), *[(name, d, dims[d]) for d in DIMENSIONS]]:
            if name.endswith(".median"):
                medians[key].append(value)
            else:
                sums[key] += value

    def visible(p: Person) -> bool:
        return not p.opt_out and (regions is None or p.region in regions)

    for p in pop.people:
        if visible(p):
            add("people_registered", 1, p.dims(year, today))
    for r in pop.referrals:
        if not visible(r.person) or (programme and r.programme != programme):
            continue
        dims = r.person.dims(year, today)
        for name, value in _referral_values(r, programmes).items():
            add(name, value, dims)
    cells: Cells = dict(sums)
    cells.update({k: statistics.median(vs) for k, vs in medians.items()})
    return cells


def report_cells(body: dict[str, Any]) -> Cells:
    cells: Cells = {}
    for ind in body["indicators"]:
        if ind["total"] is not None:
            cells[(ind["name"], None, None)] = ind["total"]
        for dim, values in ind["by"].items():
            for value, v in values.items():
                if v is not None:
                    cells[(ind["name"], dim, value)] = v
    return cells


Check = Callable[[Cells, Cells], None]

