"""When a failed delivery is tried again, and when an endpoint is given up on."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from shared.clock import as_utc

# Standard Webhooks' example schedule: delay before attempt n (n = 1..10).
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.1
DISABLE_AFTER = timedelta(days=5)
MAX_RETRY_AFTER = 86400


def next_delay(attempts_done: int, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_done`` failures; None: give up."""
    if attempts_done >= len(SCHEDULE):
        return None
    base = SCHEDULE[attempts_done]
    r = rng or random
    return base * (1 + r.uniform(-JITTER, JITTER))


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min((as_utc(when) - now).total_seconds(), MAX_RETRY_AFTER))
