"""Events against their published schemas (``shared.event_types``): what producers store in
an outbox, what the feed lists and what a webhook subscriber receives. ``install`` wraps the
producers and the feed for the whole session; every violation is kept in ``VIOLATIONS`` (the
test that caused it fails, see tests/conftest.py) and every type emitted in ``SEEN``."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import jsonschema

from shared.event_types import BY_NAME, CATALOGUE, delivery_model, feed_item_model, inline_schema

SEEN: set[str] = set()
VIOLATIONS: list[str] = []
# Types that only capabilities not built yet emit (none: every catalogued type is emitted).
NOT_YET_EMITTED: frozenset[str] = frozenset()
# internal to the relay (who may see the event), stripped from the feed and deliveries
INTERNAL_DATA = {"organisations"}
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER  # date-time is checked too


@functools.cache
def _schemas(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    t = BY_NAME[name]
    feed = inline_schema(feed_item_model(t)) if t.in_feed else {}
    return feed, inline_schema(delivery_model(t))


def _check(name: str, instance: dict[str, Any], schema: dict[str, Any], where: str
           ) -> list[str]:
    """Problems of ``instance`` against ``schema``, including fields its ``data`` carries
    that the schema does not declare (the catalogue must grow with the code)."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    problems = [f"{where} {name}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: "
                f"{e.message}" for e in validator.iter_errors(instance)]
    declared = set(schema["properties"]["data"].get("properties", {}))
    data = instance.get("data")
    if isinstance(data, dict):
        problems += [f"{where} {name}: data/{k}: not declared in the catalogue"
                     for k in sorted(set(data) - declared)]
    return problems


def feed_item_problems(item: dict[str, Any]) -> list[str]:
    name = item.get("type")
    if not isinstance(name, str) or name not in BY_NAME or not BY_NAME[name].in_feed:
        return [f"feed item: type {name!r} is not in the event catalogue"]
    return _check(name, item, _schemas(name)[0], "feed item")


def delivery_problems(body: dict[str, Any]) -> list[str]:
    name = body.get("type")
    if not isinstance(name, str) or name not in BY_NAME:
        return [f"webhook delivery: type {name!r} is not in the event catalogue"]
    return _check(name, body, _schemas(name)[1], "webhook delivery")


def outbox_problems(event: Any) -> list[str]:
    """An event as a producer queues it (``shared.outbox.Event``), checked as the feed will
    list it."""
    item = {"position": 1, "event_id": "e", "type": event.type,
            "occurred_at": "2026-01-01T00:00:00Z", "subject_type": event.subject_type,
            "subject_id": event.subject_id, "subject_version": event.subject_version,
            "organisation_id": event.organisation_id, "regions": list(event.regions),
            "data": {k: v for k, v in event.data.items() if k not in INTERNAL_DATA}}
    return [p.replace("feed item", "outbox event") for p in feed_item_problems(item)]


def check_delivery(raw: bytes) -> dict[str, Any]:
    """A delivery body as a subscriber parses it; its problems are recorded."""
    body: dict[str, Any] = json.loads(raw)
    SEEN.add(str(body.get("type")))
    VIOLATIONS.extend(delivery_problems(body))
    return body


def install() -> None:
    """Wrap, for the session, where events are produced (the services' outbox, the gateway's
    own notices) and where the feed is read."""
    import gateway.events.feed as feed
    import gateway.events.subscriptions as subscriptions
    import shared.db as db

    insert_events = db.insert_events

    async def recording_insert(session: Any, events: Sequence[Any]) -> None:
        for event in events:
            SEEN.add(event.type)
            VIOLATIONS.extend(outbox_problems(event))
        await insert_events(session, events)

    append_events = subscriptions.append_events

    async def recording_append(uow: Any, source: str, events: Sequence[Any]) -> Any:
        for event in events:
            SEEN.add(event.type)
            VIOLATIONS.extend(outbox_problems(event))
        return await append_events(uow, source, events)

    list_events = feed.list_events

    async def checked_list(**kwargs: Any) -> Any:
        page = await list_events(**kwargs)
        for item in page.items:
            VIOLATIONS.extend(feed_item_problems(item.model_dump(mode="json")))
        return page

    db.insert_events = recording_insert
    subscriptions.append_events = recording_append
    feed.list_events = checked_list
    _record_the_watchs_statement()


def _record_the_watchs_statement() -> None:
    """On PostgreSQL the document-expiry watch stores its events with one SQL statement
    (``services.registry.watch.PG_ANNOUNCE``), not through ``insert_events``: the rows it
    wrote at the run's ``now`` are read back and checked like any producer's."""
    from types import SimpleNamespace

    from sqlalchemy import select

    import services.registry.watch as watch
    from shared.tables import outbox_events as o

    announce = watch._announce_window_pg

    async def recording_announce(db: Any, **kwargs: Any) -> int:
        announced: int = await announce(db, **kwargs)
        if announced:
            async with db.uow() as uow:
                rows = (await uow.session.execute(select(o).where(
                    o.c.type.in_(("document.expiring", "document.expired")),
                    o.c.occurred_at == kwargs["now"]))).all()
            for row in rows:
                event = SimpleNamespace(**row._mapping)
                SEEN.add(event.type)
                VIOLATIONS.extend(outbox_problems(event))
        return announced

    watch._announce_window_pg = recording_announce


def coverage_report(seen: set[str]) -> tuple[list[str], list[str]]:
    """(types emitted but not catalogued, catalogued types the suite never saw emitted)."""
    names = {t.name for t in CATALOGUE}
    return sorted(seen - names), sorted(names - seen - NOT_YET_EMITTED)


def _whole_suite(session: Any) -> bool:
    """Only a run of every test can tell that a catalogued type is never emitted."""
    from pathlib import Path

    config = session.config
    tests_root = Path(__file__).resolve().parents[1]
    args = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    return (not config.option.keyword and not config.option.markexpr
            and session.testsfailed == 0 and not session.shouldstop
            and all(a == tests_root or a == tests_root.parent for a in args))


def finish(session: Any, seen: set[str] | None = None) -> None:
    """At the end of the run: a type emitted but not catalogued fails it; a catalogued type
    never emitted is reported, and fails a run of the whole suite."""
    seen = SEEN if seen is None else seen
    unknown, never = coverage_report(seen)
    whole = _whole_suite(session)
    lines = [f"event types emitted by the suite: {len(seen & set(BY_NAME))} of "
             f"{len(BY_NAME)} catalogued"]
    if unknown:
        lines.append(f"emitted but not in the event catalogue: {', '.join(unknown)}")
    if never and whole:
        lines.append(f"catalogued but never emitted by the suite: {', '.join(never)}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        for line in lines:
            reporter.write_line(line)
    if unknown or (never and whole):
        session.exitstatus = 1
