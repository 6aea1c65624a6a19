"""The access line is only built when its level is written (shared.logging.enabled): below
it, structlog's lazy logger would bind a new logger for every request just to drop it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import shared.logging
import shared.observability
from shared.observability import RequestContextMiddleware
from tests.support.logs import production_logs


class Spy:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **kw: Any) -> None:
        self.lines.append(("info", kw))

    def debug(self, event: str, **kw: Any) -> None:
        self.lines.append(("debug", kw))


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _call(path: str) -> None:
    app = RequestContextMiddleware(_ok, service="registry")
    scope = {"type": "http", "method": "GET", "path": path, "headers": [],
             "query_string": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(_: Any) -> None:
        return None

    await app(scope, receive, send)


@pytest.mark.parametrize(("level", "public", "internal"), [
    (logging.WARNING, [], []),
    (logging.INFO, ["info"], []),
    (logging.DEBUG, ["info"], ["debug"]),
])
async def test_the_access_line_is_built_only_at_a_level_that_is_written(
        monkeypatch: pytest.MonkeyPatch, level: int, public: list[str],
        internal: list[str]) -> None:
    spy = Spy()
    monkeypatch.setattr(shared.observability, "access_log", spy)
    monkeypatch.setattr(shared.logging, "_min_level", level)
    await _call("/v1/profiles")
    assert [lvl for lvl, _ in spy.lines] == public
    spy.lines.clear()
    await _call("/internal/outbox")  # the relay's polling: DEBUG when it succeeds
    assert [lvl for lvl, _ in spy.lines] == internal


def test_configuring_the_logs_sets_the_level_asked() -> None:
    with production_logs():  # DEBUG, as a deployment at DEBUG
        assert shared.logging.enabled(logging.DEBUG)
