"""Reading the ordered event feed. The cursor always comes back, even on an empty page:
a reader resumes from it and never skips an event committed after it last looked.

Cursors are bound to the caller (shared/pagination.py). Ministry systems store feed cursors
for months, so a feed cursor made before that binding ("legacy") is still honoured until
``RUTA_LEGACY_FEED_CURSORS_UNTIL``: the first caller to present it owns it from then on, gets
its page and a cursor bound to it; anybody else presenting it gets the invalid-cursor problem
(docs/decisions/0006-cursors-bound-to-caller.md)."""

from __future__ import annotations

import hmac
from datetime import date
from typing import Any

import structlog

from gateway.events.errors import LegacyCursorExpired
from gateway.events.repository import EventsRepository
from gateway.events.schemas import FeedItem, FeedPage
from shared.clock import as_utc, utcnow
from shared.db import Database
from shared.errors import InvalidCursor
from shared.identity import Identity
from shared.outbox import without_trace
from shared.pagination import CursorCodec, OpenedCursor

log = structlog.get_logger("ruta.events")


async def list_events(*, db: Database, identity: Identity, cursors: CursorCodec,
                      types: list[str], cursor: str | None, limit: int,
                      legacy_until: date) -> FeedPage:
    wanted = sorted(set(types))
    filters = {"types": wanted}
    opened = cursors.open(cursor, "events", filters, caller=identity) if cursor else None
    after = _position(opened)
    audience = None if identity.is_admin else (identity.organisation_id or "")
    legacy = opened is not None and opened.legacy
    # a page is one statement: read without BEGIN/ROLLBACK (a legacy cursor's rebinding
    # writes, in a unit of work)
    async with (db.uow() if legacy else db.reading()) as uow:
        repo = EventsRepository(uow.session)
        if legacy:
            assert opened is not None
            await _rebind(repo, cursors, identity, opened, after, legacy_until)
        rows = await repo.feed(after=after, types=wanted, audience=audience, limit=limit)
        items = [_feed_item(r) for r in rows]
        if legacy:
            await uow.commit()
    last = items[-1].position if items else after
    return FeedPage.model_construct(
        items=items, next_cursor=cursors.encode("events", filters, [last], caller=identity))


def _position(opened: OpenedCursor | None) -> int:
    if opened is None:
        return 0
    try:
        return int(opened.position[0])
    except (TypeError, ValueError):
        raise InvalidCursor() from None


async def _rebind(repo: EventsRepository, cursors: CursorCodec, identity: Identity,
                  opened: OpenedCursor, after: int, legacy_until: date) -> None:
    """A legacy cursor is the first presenter's for good: it may present it again (a retry
    after a lost answer), nobody else may."""
    now = utcnow()
    if now.date() > legacy_until:
        raise LegacyCursorExpired(until=legacy_until.isoformat())
    owner = cursors.owner(identity)
    holder = await repo.rebind_legacy_cursor(digest=opened.digest, owner=owner,
                                             organisation_id=identity.organisation_id,
                                             position=after, now=now)
    if not hmac.compare_digest(holder, owner):
        log.info("legacy_feed_cursor_refused", organisation_id=identity.organisation_id)
        raise InvalidCursor()
    log.info("legacy_feed_cursor_accepted", organisation_id=identity.organisation_id,
             position=after)


def _feed_item(row: Any) -> FeedItem:
    """A feed row as a reader sees it: the audience list in ``data`` stays internal. Built
    without validation: every field comes typed from the table (the time made UTC here)."""
    return FeedItem.model_construct(
        position=row.position, event_id=row.event_id, type=row.type,
        occurred_at=as_utc(row.occurred_at), subject_type=row.subject_type,
        subject_id=row.subject_id, subject_version=row.subject_version,
        organisation_id=row.organisation_id, regions=list(row.regions),
        data={k: v for k, v in without_trace(row.data).items() if k != "organisations"})
