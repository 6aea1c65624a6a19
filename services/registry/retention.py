"""The registry's side of retention: the audit log is kept ``retention_audit_years`` (10 by
default), then purged.

Who saw or changed a person's record must stay answerable for as long as the person or an
authority may ask (Ley 29733 art. 16 security measures, LOPDP accountability; ten years is
Peru's general limitation period for personal actions, Código Civil art. 2001), and no
longer: an audit entry names a person's record and the caller who touched it.

The entries are append-only (triggers refuse UPDATE and DELETE); the purge opens the one
way through them, ``audit_purge_window``, inside its own transaction and closes it before
committing, so no other transaction ever sees it open (migration reg0009_retention).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import AuditEntry, AuditPurgeWindow
from shared.retention import Category
from shared.settings import Settings

_audit = cast(Table, AuditEntry.__table__)
_window = cast(Table, AuditPurgeWindow.__table__)


@dataclass(frozen=True)
class AuditCategory(Category):
    period: timedelta = timedelta(days=3650)

    async def purge_batch(self, session: AsyncSession, now: datetime, limit: int) -> int:
        # a failure rolls the whole transaction back, window included
        await session.execute(insert(_window).values(purge_before=now - self.period))
        deleted = await super().purge_batch(session, now, limit)
        await session.execute(delete(_window))
        return deleted


def audit_category(settings: Settings) -> Category:
    period = timedelta(days=365 * settings.retention_audit_years)

    def past(now: datetime) -> ColumnElement[bool]:
        return _audit.c.at < now - period

    return AuditCategory("audit_log", "registry", _audit, past, period=period)
