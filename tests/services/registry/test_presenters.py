"""Response helpers (services/registry/presenters.py)."""

from __future__ import annotations

from datetime import date

from services.registry.presenters import age_band


def test_age_bands() -> None:
    today = date(2026, 6, 1)
    assert age_band(date(2008, 6, 2), today) == "0-17"
    assert age_band(date(2008, 6, 1), today) == "18-24"
    assert age_band(date(1991, 6, 1), today) == "35-44"
    assert age_band(date(1966, 6, 2), today) == "45-59"
    assert age_band(date(1966, 6, 1), today) == "60+"
    assert age_band(None, today) is None
