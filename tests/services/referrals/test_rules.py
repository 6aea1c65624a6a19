"""Acceptance 5: the recommendation rules (data) against a table of personas, as a pure
function — no HTTP, no database. Plus: a broken rules file refuses to start."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.referrals.app import create_app
from services.referrals.catalogue import PROGRAMMES
from services.referrals.eligibility import (
    CredentialFact,
    DocumentFact,
    Facts,
    ProgrammeInfo,
    Recommendation,
    age_on,
    recommend,
)
from services.referrals.rules import RULES_FILE, RulesError, load_rules
from shared.settings import Settings

RULES = load_rules()
CATALOGUE = {p["id"]: ProgrammeInfo(p["id"], p["country"], p["regions"]) for p in PROGRAMMES}

CPP = DocumentFact("pe_cpp", "PER", authorises_work=True)
DNI = DocumentFact("pe_dni", "PER")
REFUGE_CARD = DocumentFact("pe_carne_solicitante_refugio", "PER")  # not marked: listed type
VE_CEDULA = DocumentFact("ve_cedula", "VEN")
OLD_PASSPORT = DocumentFact("ve_passport", "VEN", expired=True,
                            accepted_for_identification=False)  # expired > 5 years
GRACE_PASSPORT = DocumentFact("ve_passport", "VEN", expired=True)  # expired < 5 years
VIRTE = DocumentFact("ec_visa_virte", "ECU", authorises_work=True)


def degree(field_isced: str, status: str = "self_declared", country: str | None = "VE",
           isco: str | None = None) -> CredentialFact:
    return CredentialFact("academic_degree", status, field_isced, isco, country)


def person(**kw: Any) -> Facts:
    base: dict[str, Any] = {"region": "PE-LMA", "age": 34, "population_type": "migrant",
                            "nationality": "VEN", "documents": (VE_CEDULA, CPP)}
    base.update(kw)
    return Facts(**base)


@dataclass
class Expect:
    relevant: bool | None = None
    eligible: bool | None = None
    missing: set[str] = field(default_factory=set)   # codes that must be missing
    reasons: set[str] = field(default_factory=set)   # codes that must be among the reasons
    no_missing: bool = False


@dataclass
class Persona:
    name: str
    facts: Facts
    top: str
    expect: dict[str, Expect]
    absent: tuple[str, ...] = ()  # programmes not listed at all (other country)


DOCTOR = person(education_level=7, education_field="0912", occupations=("2211",),
                interest_employment=True, credentials=(degree("0912", isco="2211"),))

PERSONAS = [
    Persona("venezuelan doctor, degree self-declared", DOCTOR, "pe-sunedu-reconocimiento", {
        "pe-sunedu-reconocimiento": Expect(True, False, {"degree_not_apostilled"},
                                           {"foreign_degree", "regulated_health_profession"}),
        "pe-enam": Expect(True, False, {"degree_not_recognised"}),
        "pe-colegio-medico": Expect(True, False, {"degree_not_recognised", "enam_not_passed"}),
        "pe-empleo": Expect(True, True, reasons={"work_authorised", "interested_in_employment"},
                            no_missing=True),
        "pe-colegio-enfermeros": Expect(False, False, {"no_nursing_degree"}),
        "pe-emprende-segura": Expect(False, False, {"no_entrepreneurship_interest"}),
    }, absent=("ec-socio-empleo", "ec-senescyt-registro")),
    Persona("nurse with an apostilled degree",
            person(credentials=(degree("0913", "apostilled"),)), "pe-sunedu-reconocimiento", {
                "pe-sunedu-reconocimiento": Expect(True, True, reasons={"degree_apostilled"},
                                                   no_missing=True),
                "pe-colegio-enfermeros": Expect(True, False, {"degree_not_recognised"}),
                "pe-colegio-medico": Expect(False, False, {"no_medical_degree"}),
            }),
    Persona("civil engineer, degree not apostilled",
            person(occupations=("2142",), credentials=(degree("0732", isco="2142"),)),
            "pe-sunedu-reconocimiento", {
                "pe-sunedu-reconocimiento": Expect(True, False, {"degree_not_apostilled"}),
                "pe-enam": Expect(False, False, {"no_medical_degree"}),
                "pe-empleo": Expect(True, True),
            }),
    Persona("asylum seeker with a refugee-applicant card",
            person(population_type="asylum_seeker", documents=(REFUGE_CARD,),
                   interest_employment=True), "pe-empleo", {
                "pe-empleo": Expect(True, True, reasons={"work_authorised"}, no_missing=True),
                "pe-sunedu-reconocimiento": Expect(False, False, {"no_foreign_degree_pending"}),
            }),
    Persona("minor of 16", person(age=16, interest_employment=True,
                                  interest_self_employment=True), "pe-empleo", {
        "pe-empleo": Expect(True, False, {"under_18"}),
        "pe-emprende-segura": Expect(True, False, {"under_18"}),
    }),
    Persona("person outside the programme regions (Arequipa)",
            person(region="PE-ARE", interest_employment=True), "pe-empleo", {
                "pe-empleo": Expect(True, False, {"outside_programme_regions"}),
            }),
    Persona("peruvian host-community national who wants a business",
            person(nationality="PER", population_type="host_community", documents=(DNI,),
                   interest_self_employment=True), "pe-emprende-segura", {
                "pe-emprende-segura": Expect(True, True, reasons={"wants_own_business"},
                                             no_missing=True),
                "pe-empleo": Expect(True, True),
                "pe-sunedu-reconocimiento": Expect(False, False, {"no_foreign_degree_pending"}),
            }),
    Persona("teacher with a degree verified with the university",
            person(occupations=("2341",), credentials=(
                degree("0114", "verified_with_issuer", isco="2341"),)),
            "pe-sunedu-reconocimiento", {
                "pe-sunedu-reconocimiento": Expect(True, True, no_missing=True),
            }),
    Persona("entrepreneur (refugee)",
            person(population_type="refugee", interest_self_employment=True),
            "pe-emprende-segura", {
                "pe-emprende-segura": Expect(True, True,
                                             reasons={"wants_own_business",
                                                      "protection_priority"}),
            }),
    Persona("passport expired more than five years ago, nothing else",
            person(documents=(OLD_PASSPORT,), interest_employment=True), "pe-empleo", {
                "pe-empleo": Expect(True, False, {"no_valid_identity_document",
                                                  "no_work_authorisation"}),
            }),
    Persona("passport expired three years ago: identifies, does not authorise work",
            person(documents=(GRACE_PASSPORT,)), "pe-empleo", {
                "pe-empleo": Expect(True, False, {"no_work_authorisation"}),
            }),
    Persona("venezuelan cédula only: documento que no autoriza a trabajar",
            person(documents=(VE_CEDULA,)), "pe-empleo", {
                "pe-empleo": Expect(True, False, {"no_work_authorisation"}),
            }),
    Persona("CPP marked as not authorising work: the rules decide, the mark is shown",
            person(documents=(replace(CPP, authorises_work=False),)), "pe-empleo", {
                "pe-empleo": Expect(True, True, reasons={
                    "work_authorised", "work_authorisation_evidence_disagrees"}),
            }),
    Persona("Peruvian CPP of a person now living in Quito",
            person(region="EC-P", documents=(CPP,)), "ec-socio-empleo", {
                "ec-socio-empleo": Expect(True, False, {"no_work_authorisation"}),
            }, absent=("pe-empleo",)),
    Persona("Ecuador resident with a VIRTE visa",
            person(region="EC-P", documents=(VIRTE,), interest_employment=True,
                   credentials=(degree("0912", "apostilled"),)), "ec-senescyt-registro", {
                "ec-senescyt-registro": Expect(True, True, no_missing=True),
                "ec-socio-empleo": Expect(True, True),
                "ec-acess-licencia": Expect(True, False, {"degree_not_registered"}),
            }, absent=("pe-empleo", "pe-sunedu-reconocimiento")),
    Persona("nurse whose degree SUNEDU recognised",
            person(interest_employment=True, credentials=(degree("0913", "recognised"),)),
            "pe-colegio-enfermeros", {
                "pe-sunedu-reconocimiento": Expect(False, False, {"no_foreign_degree_pending"}),
                "pe-colegio-enfermeros": Expect(True, True, reasons={"degree_recognised"}),
                "pe-empleo": Expect(True, True, reasons={"degree_recognised"}),
            }),
    Persona("doctor after SUNEDU and the ENAM",
            replace(DOCTOR, referrals={"pe-sunedu-reconocimiento": frozenset({"completed"}),
                                       "pe-enam": frozenset({"completed"})}),
            "pe-empleo", {
                "pe-sunedu-reconocimiento": Expect(False, False, {"already_completed"}),
                "pe-enam": Expect(False, False, {"already_completed"}),
                "pe-colegio-medico": Expect(True, True, reasons={"degree_recognised",
                                                                 "enam_passed"}),
            }),
    Persona("licensed doctor: the employment service first",
            replace(DOCTOR, referrals={p: frozenset({"completed"}) for p in (
                "pe-sunedu-reconocimiento", "pe-enam", "pe-colegio-medico")}),
            "pe-empleo", {
                "pe-empleo": Expect(True, True, reasons={"licensed_health_professional",
                                                         "degree_recognised"}),
                "pe-colegio-medico": Expect(False, False, {"already_completed"}),
            }),
    Persona("SUNEDU refused the degree: revalidation becomes relevant",
            person(credentials=(degree("0912", "apostilled"),), referrals={
                "pe-sunedu-reconocimiento": frozenset({"rejected"})}),
            "pe-sunedu-reconocimiento", {
                "pe-revalidacion": Expect(True, True),
            }),
    Persona("cook with a certifiable trade",
            person(occupations=("5120",)), "pe-empleo", {
                "pe-certificacion-competencias": Expect(True, True,
                                                        reasons={"certifiable_trade"}),
            }),
    Persona("returnee who wants a business: not targeted by Emprende Segur@",
            person(nationality="PER", population_type="returnee", documents=(DNI,),
                   interest_self_employment=True), "pe-emprende-segura", {
                "pe-emprende-segura": Expect(True, False, {"population_not_targeted"}),
            }),
]


def _by_id(recs: list[Recommendation]) -> dict[str, Recommendation]:
    return {r.programme_id: r for r in recs}


def test_at_least_twelve_personas() -> None:
    assert len(PERSONAS) >= 12


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.name for p in PERSONAS])
def test_persona(persona: Persona) -> None:
    recs = recommend(RULES, persona.facts, CATALOGUE)
    assert recs[0].programme_id == persona.top, [(r.programme_id, r.score) for r in recs]
    found = _by_id(recs)
    for programme, want in persona.expect.items():
        rec = found[programme]
        missing = {f.code for f in rec.missing}
        reasons = {f.code for f in rec.reasons}
        if want.relevant is not None:
            assert rec.relevant is want.relevant, (programme, missing)
        if want.eligible is not None:
            assert rec.eligible is want.eligible, (programme, missing)
        assert want.missing <= missing, (programme, missing)
        assert want.reasons <= reasons, (programme, reasons)
        if want.no_missing:
            assert rec.missing == [], (programme, missing)
    for programme in persona.absent:
        assert programme not in found
    # every item is of the person's country, relevant ones first
    country = persona.facts.country
    assert all(CATALOGUE[r.programme_id].country == country for r in recs)
    relevance = [r.relevant for r in recs]
    assert relevance == sorted(relevance, reverse=True)
    assert all(r.eligible <= r.relevant for r in recs)
    assert all(0 <= r.score <= 100 for r in recs)


def test_messages_say_what_is_missing_in_both_languages() -> None:
    recs = _by_id(recommend(RULES, DOCTOR, CATALOGUE))
    missing = recs["pe-sunedu-reconocimiento"].missing[0]
    assert (missing.code, missing.text.render("es"), missing.text.render("en")) == (
        "degree_not_apostilled", "Título no apostillado", "Degree not apostilled")
    far = _by_id(recommend(RULES, person(region="PE-ARE", documents=(VE_CEDULA,)),
                           CATALOGUE))["pe-empleo"]
    texts = {f.text.render("es") for f in far.missing}
    assert {"Fuera de las regiones del programa", "Documento que no autoriza a trabajar"} \
        <= texts


def test_inactive_programmes_are_not_recommended() -> None:
    catalogue = {**CATALOGUE, "pe-empleo": replace(CATALOGUE["pe-empleo"], active=False)}
    assert "pe-empleo" not in _by_id(recommend(RULES, DOCTOR, catalogue))


def test_age() -> None:
    assert age_on(date(2000, 6, 15), date(2018, 6, 14)) == 17
    assert age_on(date(2000, 6, 15), date(2018, 6, 15)) == 18
    assert age_on(None, date(2018, 6, 15)) is None


def test_unknown_age_is_not_adult() -> None:
    rec = _by_id(recommend(RULES, person(age=None), CATALOGUE))["pe-empleo"]
    assert "under_18" in {f.code for f in rec.missing}


# --- the rules file is validated; a broken one refuses to start ------------------------------
def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    return data


def _mutations() -> list[tuple[str, Any]]:
    dup = _shipped()
    dup["rules"].append(dup["rules"][0])
    unknown = _shipped()
    unknown["rules"][0]["programme"] = "pe-inexistente"
    bad_cond = _shipped()
    bad_cond["rules"][0]["requires"][0]["check"] = {"type": "horoscope"}
    extra = _shipped()
    extra["rules"][0]["colour"] = "red"
    no_message = _shipped()
    del no_message["rules"][0]["requires"][0]["missing"]["es"]
    ref = _shipped()
    ref["rules"][0]["boosts"][0]["check"] = {"type": "referral", "programmes": ["nope"],
                                              "statuses": ["completed"]}
    return [("not json", "{rules: ["), ("empty", {}), ("duplicate rule", dup),
            ("unknown programme", unknown), ("unknown condition", bad_cond),
            ("unknown field", extra), ("message without Spanish", no_message),
            ("reference to an unknown programme", ref)]


@pytest.mark.parametrize(("case", "data"), _mutations(), ids=[m[0] for m in _mutations()])
def test_broken_rules_refuse_to_start(tmp_path: Path, case: str, data: Any) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(RulesError):
        load_rules(path)
    with pytest.raises(RulesError):
        create_app(Settings(data_dir=tmp_path), rules_path=path)


def test_missing_rules_file_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(RulesError):
        create_app(Settings(data_dir=tmp_path), rules_path=tmp_path / "absent.json")


def test_shipped_rules_are_versioned_and_cover_the_catalogue() -> None:
    assert RULES.version >= 1
    assert {r.programme for r in RULES.rules} == {p["id"] for p in PROGRAMMES}
