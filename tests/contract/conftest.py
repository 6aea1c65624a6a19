"""One live embedded server (`ruta serve` on a free loopback port) for the checks of this
folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live import LiveServer, live_server


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live")) as server:
        yield server
