"""Regression of a fault `make faults` found: while PostgreSQL restarted, requests answered
500 ("the database system is shutting down" / "is starting up" are DBAPIErrors whose
connection is not marked invalidated); they are outages, answered 503 with Retry-After."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from shared.errors import install_error_handlers, is_database_outage


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


@pytest.mark.parametrize(("message", "sqlstate"), [
    ("the database system is shutting down", "57P01"),
    ("the database system is starting up", "57P03"),
    ("connection failure", "08006"),
    ("sorry, too many clients already", "53300"),
])
async def test_server_restarting_is_a_503_problem(message: str, sqlstate: str) -> None:
    error = sa_exc.DBAPIError("SELECT 1", None, _DriverError(message, sqlstate))
    assert is_database_outage(error)
    transport = httpx.ASGITransport(app=_app(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        resp = await client.get("/boom")
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "2"
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_a_real_database_error_is_still_a_500() -> None:
    error = sa_exc.DBAPIError("SELECT 1", None, _DriverError("syntax error", "42601"))
    assert not is_database_outage(error)
    transport = httpx.ASGITransport(app=_app(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/boom")).status_code == 500
