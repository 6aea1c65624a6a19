"""Issue 19 item 4b: a lapsed or lapsing work authorisation puts its renewal first, blocks
the programmes that need a valid one, and a caseworker's mark that disagrees with the shared
rules is shown — a pure function of the facts, on the country's day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.referrals.catalogue import PROGRAMMES
from services.referrals.eligibility import DocumentFact, Facts, ProgrammeInfo, recommend
from services.referrals.rules import load_rules

RULES = load_rules()
CATALOGUE = {p["id"]: ProgrammeInfo(p["id"], p["country"], p["regions"]) for p in PROGRAMMES}
TODAY = date(2026, 12, 4)
VE_CEDULA = DocumentFact("ve_cedula", "VEN")


def cpp(days_left: int, **kw: Any) -> DocumentFact:
    return DocumentFact("pe_cpp", "PER", expiry_date=TODAY + timedelta(days=days_left), **kw)


def person(*documents: DocumentFact, **kw: Any) -> Facts:
    base: dict[str, Any] = {"region": "PE-LMA", "age": 34, "population_type": "migrant",
                            "nationality": "VEN", "documents": (VE_CEDULA, *documents),
                            "interest_employment": True, "today": TODAY}
    base.update(kw)
    return Facts(**base)


def by_id(facts: Facts) -> tuple[list[str], dict[str, Any]]:
    recs = recommend(RULES, facts, CATALOGUE)
    return [r.programme_id for r in recs], {r.programme_id: r for r in recs}


def test_a_lapsed_cpp_puts_migraciones_first_and_blocks_the_employment_service() -> None:
    order, recs = by_id(person(cpp(-3)))
    assert order[0] == "pe-migraciones-renovacion"
    renewal = recs["pe-migraciones-renovacion"]
    assert renewal.relevant and renewal.eligible
    assert "work_authorisation_renewal" in {f.code for f in renewal.reasons}
    empleo = recs["pe-empleo"]
    assert not empleo.eligible
    assert "no_work_authorisation" in {f.code for f in empleo.missing}
    assert empleo.blocked_by is not None
    assert (empleo.blocked_by.programme_id, empleo.blocked_by.code) == (
        "pe-migraciones-renovacion", "work_authorisation_lapsed")
    assert empleo.blocked_by.text.render("es") == (
        "Bloqueado: Carné de Permiso Temporal de Permanencia (CPP) venció el 2026-12-01; "
        "primero la renovación")
    assert "expired on 2026-12-01" in empleo.blocked_by.text.render("en")
    # programmes that do not need a work authorisation are not blocked
    assert recs["pe-emprende-segura"].blocked_by is None


def test_a_cpp_lapsing_within_its_window_renewal_first_employment_still_eligible() -> None:
    order, recs = by_id(person(cpp(20)))
    assert order[0] == "pe-migraciones-renovacion"
    empleo = recs["pe-empleo"]
    assert empleo.eligible  # still valid today
    assert empleo.blocked_by is not None
    assert empleo.blocked_by.code == "work_authorisation_renewal_due"
    assert "2026-12-24" in empleo.blocked_by.text.render("en")


def test_the_window_comes_from_the_shared_rules() -> None:
    # the CPP's renewal window is 60 days (shared/work_authorisation.json): 61 days is not due
    order, recs = by_id(person(cpp(61)))
    assert order[0] != "pe-migraciones-renovacion"
    assert not recs["pe-migraciones-renovacion"].relevant
    assert recs["pe-empleo"].blocked_by is None and recs["pe-empleo"].eligible
    assert by_id(person(cpp(60)))[0][0] == "pe-migraciones-renovacion"
    # the asylum seeker's card has a 30-day window
    card = DocumentFact("pe_carne_solicitante_refugio", "PER",
                        expiry_date=TODAY + timedelta(days=45))
    assert by_id(person(card))[1]["pe-empleo"].blocked_by is None
    card = DocumentFact("pe_carne_solicitante_refugio", "PER",
                        expiry_date=TODAY + timedelta(days=25))
    assert by_id(person(card))[0][0] == "pe-migraciones-renovacion"


def test_the_expiry_day_itself_is_still_valid_and_the_next_is_not() -> None:
    assert by_id(person(cpp(0)))[1]["pe-empleo"].eligible
    assert not by_id(person(cpp(-1)))[1]["pe-empleo"].eligible


def test_a_new_document_already_recorded_makes_the_old_lapse_moot() -> None:
    order, recs = by_id(person(cpp(-30), cpp(700)))
    assert order[0] != "pe-migraciones-renovacion"
    assert not recs["pe-migraciones-renovacion"].relevant
    assert recs["pe-empleo"].eligible and recs["pe-empleo"].blocked_by is None
    # a Peruvian DNI never lapses: no renewal either
    dni = DocumentFact("pe_dni", "PER")
    assert by_id(person(cpp(-3), dni))[1]["pe-empleo"].blocked_by is None


def test_a_lapsed_virte_in_quito_puts_the_visa_renewal_first() -> None:
    virte = DocumentFact("ec_visa_virte", "ECU", expiry_date=TODAY - timedelta(days=10))
    order, recs = by_id(person(virte, region="EC-P"))
    assert order[0] == "ec-visa-renovacion"
    assert recs["ec-socio-empleo"].blocked_by is not None
    assert recs["ec-socio-empleo"].blocked_by.programme_id == "ec-visa-renovacion"
    assert "pe-migraciones-renovacion" not in recs


def test_no_work_authorising_document_at_all_is_not_a_renewal() -> None:
    recs = by_id(person())[1]
    assert not recs["pe-migraciones-renovacion"].relevant
    assert recs["pe-empleo"].blocked_by is None
    assert "no_work_authorisation" in {f.code for f in recs["pe-empleo"].missing}


def test_a_disagreeing_mark_is_shown_and_the_rule_applies() -> None:
    # the caseworker marked a venezuelan cédula as authorising work: the rules say no
    marked = DocumentFact("ve_cedula", "VEN", authorises_work=True)
    recs = by_id(person(documents=(marked,)))[1]
    empleo = recs["pe-empleo"]
    assert not empleo.eligible
    found = [f for f in empleo.reasons if f.code == "work_authorisation_evidence_disagrees"]
    assert len(found) == 1
    assert found[0].text.render("en") == (
        "ve_cedula: recorded as 'authorises work: yes', but by the rules no; the rules apply")
    # a CPP marked as not authorising still authorises by the rules, and shows the mark
    recs = by_id(person(cpp(200, authorises_work=False)))[1]
    assert recs["pe-empleo"].eligible
    assert "work_authorisation_evidence_disagrees" in {
        f.code for f in recs["pe-empleo"].reasons}
    # an agreeing mark says nothing
    recs = by_id(person(cpp(200, authorises_work=True)))[1]
    assert "work_authorisation_evidence_disagrees" not in {
        f.code for f in recs["pe-empleo"].reasons}


def test_a_recorded_expired_flag_counts_as_lapsed() -> None:
    recs = by_id(person(DocumentFact("pe_cpp", "PER", expired=True)))[1]
    assert recs["pe-empleo"].blocked_by is not None
