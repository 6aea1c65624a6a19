"""``ruta rotate-issuer-key``: the operator's way to rotate the VC signing key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services.credentials.models import IssuerKey
from shared.db import Database
from shared.migrate import upgrade


def test_rotate_issuer_key_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'credentials.db'}"
    asyncio.run(upgrade("credentials", url))
    monkeypatch.setenv("RUTA_CREDENTIALS_DATABASE_URL", url)
    from ruta.cli import app

    runner = CliRunner()
    assert "rotate-issuer-key" in runner.invoke(app, ["--help"]).output
    first = runner.invoke(app, ["rotate-issuer-key"])
    second = runner.invoke(app, ["rotate-issuer-key"])
    assert first.exit_code == second.exit_code == 0, first.output
    kids = [r.output.strip().rsplit(" ", 1)[1] for r in (first, second)]

    async def keys() -> list[tuple[str, bool]]:
        db = Database(url)
        try:
            async with db.uow() as uow:
                rows = (await uow.session.scalars(select(IssuerKey))).all()
                return [(r.kid, r.retired_at is None) for r in rows]
        finally:
            await db.dispose()

    assert sorted(asyncio.run(keys())) == sorted([(kids[0], False), (kids[1], True)])

    monkeypatch.setenv("RUTA_ENV", "production")
    refused = runner.invoke(app, ["rotate-issuer-key"])
    assert refused.exit_code == 2  # production refuses the development secrets
