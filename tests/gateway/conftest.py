"""Fixtures of these tests; what they import is in tests/support/receivers.py."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.support.receivers import Receiver


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), r.handler())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    yield r, f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()

