"""Consent decisions (services/registry/consent_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from services.registry.consent_rules import decide, effective_status

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _consent(cid: str, purpose: str, status: str, minutes: int, recipient: str | None = None,
             valid_until: datetime | None = None, programme: str | None = None
             ) -> SimpleNamespace:
    return SimpleNamespace(id=cid, purpose=purpose, status=status,
                           recipient_organisation_id=recipient, programme_id=programme,
                           valid_until=valid_until,
                           recorded_at=NOW - timedelta(minutes=minutes))


def test_latest_specific_decision_wins() -> None:
    grant = _consent("1", "referral", "granted", 30, "mtpe")
    assert decide([grant], "referral", "mtpe", None, NOW) is grant
    assert decide([grant], "referral", "otra", None, NOW) is None
    refusal = _consent("2", "referral", "refused", 10, "mtpe")
    assert decide([grant, refusal], "referral", "mtpe", None, NOW) is None
    general = _consent("3", "contact", "granted", 30)
    specific_no = _consent("4", "contact", "refused", 40, "ong-x")
    assert decide([general, specific_no], "contact", "ong-x", None, NOW) is None
    assert decide([general, specific_no], "contact", "ong-y", None, NOW) is general


def test_expired_grant_is_not_a_grant() -> None:
    c = _consent("1", "statistics", "granted", 60, valid_until=NOW - timedelta(seconds=1))
    assert effective_status(c, NOW) == "expired"
    assert decide([c], "statistics", None, None, NOW) is None
