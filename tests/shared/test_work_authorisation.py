"""The work-authorisation rules table: valid as shipped, refused when broken, and the
standing of a document on a country's day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.registry.documents import DocumentType
from shared.work_authorisation import RULES_FILE, Standing, load, rules, today_in


def test_every_rule_names_a_registry_document_type_and_a_source() -> None:
    known = {t.value for t in DocumentType}
    for rule in rules().documents:
        assert rule.document_type in known
        assert rule.source.strip()


def test_passports_and_venezuelan_documents_do_not_authorise_work() -> None:
    r = rules()
    for doc in ("passport", "ve_passport", "ve_cedula"):
        assert not r.authorises_work(doc, "PE") and not r.authorises_work(doc, "EC")
    assert r.authorises_work("pe_cpp", "PE") and not r.authorises_work("pe_cpp", "EC")
    assert r.authorises_work("ec_visa_virte", "EC") and not r.authorises_work("ec_visa_virte", "PE")


@pytest.mark.parametrize(("expiry", "expected"), [
    (date(2027, 3, 1), Standing.VALID),
    (date(2027, 1, 1), Standing.RENEWAL_DUE),       # 28 days left, window 60
    (date(2026, 12, 4), Standing.RENEWAL_DUE),      # last valid day
    (date(2026, 12, 3), Standing.EXPIRED),
    (None, Standing.VALID),
])
def test_standing_of_a_cpp_in_peru(expiry: date | None, expected: Standing) -> None:
    assert rules().standing(document_type="pe_cpp", expiry=expiry, country="PE",
                            today=date(2026, 12, 4)) is expected


def test_a_cpp_does_not_authorise_work_in_ecuador() -> None:
    assert rules().standing(document_type="pe_cpp", expiry=date(2027, 3, 1), country="EC",
                            today=date(2026, 12, 4)) is Standing.NOT_AUTHORISING


def test_horizons() -> None:
    r = rules()
    assert r.horizons_days == [60, 30, 7]
    assert r.horizon_for(61) is None
    assert r.horizon_for(60) == 60 and r.horizon_for(20) == 30 and r.horizon_for(0) == 7


def test_the_day_is_the_countrys() -> None:
    # 03:00 UTC on 5 December is still 4 December in Lima and Guayaquil (UTC-5)
    moment = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert today_in("PE", moment) == date(2026, 12, 4)
    assert today_in("EC", moment) == date(2026, 12, 4)


@pytest.mark.parametrize("breakage", [
    lambda d: d["documents"].append(dict(d["documents"][0])),          # listed twice
    lambda d: d.update(horizons_days=[7, 30, 60]),                      # wrong order
    lambda d: d["documents"][0].update(authorises_work_in=["CO"]),      # unknown country
    lambda d: d["documents"][0].update(renewal_window_days=0),
    lambda d: d["documents"][0].pop("source"),
    lambda d: d.update(unexpected=True),
])
def test_a_broken_file_is_refused(tmp_path: Path, breakage) -> None:
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    breakage(data)
    broken = tmp_path / "rules.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValidationError):
        load(broken)
