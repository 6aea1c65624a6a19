"""The suite's Redis: 127.0.0.1:6379 (``RUTA_TEST_REDIS_URL``), required in CI."""

from __future__ import annotations

import os
import socket

import pytest

REDIS_URL = os.environ.get("RUTA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    """Skip without Redis; in CI (``CI`` set), fail instead: it must be running there."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return
    except OSError:
        pass
    if os.environ.get("CI"):
        pytest.fail("Redis must be running in CI (127.0.0.1:6379)")
    pytest.skip("Redis is not running on 127.0.0.1:6379")
