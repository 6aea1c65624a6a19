"""Reading the ordered event feed. The cursor always comes back, even on an empty page:
a reader resumes from it and never skips an event committed after it last looked."""

from __future__ import annotations

from gateway.events.models import FeedEvent
from gateway.events.repository import EventsRepository
from gateway.events.schemas import FeedItem, FeedPage
from shared.clock import as_utc
from shared.db import Database
from shared.identity import Identity
from shared.pagination import CursorCodec


async def list_events(*, db: Database, identity: Identity, cursors: CursorCodec,
                      types: list[str], cursor: str | None, limit: int) -> FeedPage:
    wanted = sorted(set(types))
    filters = {"types": wanted}
    after = int(cursors.decode(cursor, "events", filters)[0]) if cursor else 0
    audience = None if identity.is_admin else (identity.organisation_id or "")
    async with db.uow() as uow:
        rows = await EventsRepository(uow.session).feed(after=after, types=wanted,
                                                        audience=audience, limit=limit)
        items = [_feed_item(r) for r in rows]
    last = items[-1].position if items else after
    return FeedPage(items=items, next_cursor=cursors.encode("events", filters, [last]))


def _feed_item(row: FeedEvent) -> FeedItem:
    """A feed row as a reader sees it: the audience list in ``data`` stays internal."""
    return FeedItem(position=row.position, event_id=row.event_id, type=row.type,
                    occurred_at=as_utc(row.occurred_at), subject_type=row.subject_type,
                    subject_id=row.subject_id, subject_version=row.subject_version,
                    organisation_id=row.organisation_id, regions=list(row.regions),
                    data={k: v for k, v in row.data.items() if k != "organisations"})
