"""Periodic jobs say when they last succeeded, so a stale job raises an alert."""

from __future__ import annotations

import time

from shared.metrics import record_job_success
from tests.operations.metrics_support import sample


def test_record_job_success_moves_the_gauge_to_now() -> None:
    before = time.time()
    record_job_success("test-job")
    assert sample("ruta_job_last_success_timestamp_seconds", task="test-job") >= before
