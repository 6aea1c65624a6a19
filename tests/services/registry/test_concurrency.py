"""Concurrent registrations of the same document: exactly one wins, the others are 409."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ruta.embedded import create_embedded_app
from services.registry.models import Profile
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory


@pytest.fixture
async def committing_app(root_dbs: dict[str, Database]) -> AsyncIterator[FastAPI]:
    application = create_embedded_app(Settings(), root_dbs)
    async with application.router.lifespan_context(application):
        yield application


async def test_same_document_registered_concurrently_once(
    committing_app: FastAPI, auth: TokenFactory, root_dbs: dict[str, Database]
) -> None:
    org = f"ong-race-{uuid.uuid4().hex[:8]}"
    number = f"{uuid.uuid4().int % 90_000_000 + 10_000_000:08d}"
    body = profile_payload(documents=[{"type": "pe_dni", "number": number}])
    async with contract_client(committing_app) as c:
        answers = await asyncio.gather(*[
            c.post("/v1/profiles", json=body, headers=auth(org=org)) for _ in range(12)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 11, [a.text for a in answers if a.status_code >= 500]
    async with root_dbs["registry"].uow() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(Profile).where(
            Profile.organisation_id == org))
    assert count == 1
