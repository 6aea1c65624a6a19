"""The labour standards a vacancy is held to: each country's monthly minimum wage and the
48-hour week, as data (``labour_standards.json``, each figure with its legal source), because
they change by decree every year or two and a programme team updates them, not a developer.

They *flag* a vacancy for the caseworker who would refer someone to it; they never refuse
it: the employment service's own listing is the record, and a flagged offer is a conversation
to have with the employer, not data to lose. The minimum applies pro rata to part-time work
(the country's full-time week), so a lawful 20-hour job is not flagged.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

STANDARDS_FILE = Path(__file__).with_name("labour_standards.json")


@lru_cache(maxsize=1)
def standards() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(STANDARDS_FILE.read_text(encoding="utf-8"))
    for country in ("PE", "EC"):
        entry = data["countries"][country]
        if entry["monthly_minimum_wage"] <= 0 or entry["full_time_hours_per_week"] <= 0:
            raise ValueError(f"labour_standards.json: bad figures for {country}")
    return data


def flags(*, country: str, wage_min: Decimal | float | None, wage_max: Decimal | float | None,
          hours_per_week: int | None) -> list[str]:
    """What the caseworker should see: ``wage_below_minimum`` when the lowest wage offered is
    under the (pro-rated) monthly minimum, ``hours_over_48`` over 48 hours a week."""
    data = standards()
    entry = data["countries"][country]
    out: list[str] = []
    lowest = wage_min if wage_min is not None else wage_max
    if lowest is not None:
        full_time = entry["full_time_hours_per_week"]
        share = min(hours_per_week, full_time) / full_time if hours_per_week else 1
        if Decimal(str(lowest)) < Decimal(str(entry["monthly_minimum_wage"])) * Decimal(
                str(share)).quantize(Decimal("0.0001")):
            out.append("wage_below_minimum")
    if hours_per_week is not None and hours_per_week > data["flag_hours_over"]:
        out.append("hours_over_48")
    return out
