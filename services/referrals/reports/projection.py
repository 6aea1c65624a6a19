"""The reports' projection of people (``report_people``): ids and non-identifying attributes
fed by the registry's events (exactly once through the inbox) and rebuilt from the registry
on demand (``ruta rebuild-report-people``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from services.referrals.clients import SYSTEM
from services.referrals.models import ReportPerson
from shared.clock import utcnow
from shared.db import Database, UnitOfWork
from shared.errors import ServiceUnavailable
from shared.outbox import EventEnvelope
from shared.peers import Peers

PROFILE_EVENTS = ("profile.created", "profile.updated", "profile.merged", "profile.erased",
                  "consent.granted", "consent.withdrawn")
RP = ReportPerson
PROFILE_ID = re.compile(r"[A-Za-z0-9-]{1,36}")


def _row_values(a: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "organisation_id": str(a["organisation_id"]), "country": str(a["country"]),
        "region": str(a["region"]), "sex": str(a["sex"]), "birth_year": a.get("birth_year"),
        "age_band": a.get("age_band"), "nationality": str(a["nationality"]),
        "population_type": str(a["population_type"]),
        "registered_at": datetime.fromisoformat(str(a["registered_at"])),
        "statistics_opt_out": bool(a["statistics_opt_out"]),
        "erased": a["status"] == "erased", "updated_at": now,
    }


async def store_attributes(uow: UnitOfWork, profile_id: str, a: dict[str, Any] | None) -> None:
    """Upsert (or drop: unknown or merged into another) one person's row."""
    row = await uow.session.get(RP, profile_id)
    if a is None or a.get("status") not in ("active", "erased"):
        if row is not None:
            await uow.session.delete(row)
        return
    values = _row_values(a, utcnow())
    if row is None:
        uow.session.add(RP(profile_id=profile_id, **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)


async def fetch_attributes(peers: Peers, profile_id: str) -> dict[str, Any] | None:
    """The person's attributes; None when the registry has no such person (an id that
    cannot be one is not asked for: a malformed event must not stall the feed)."""
    if not PROFILE_ID.fullmatch(profile_id):
        return None
    resp = await peers.request("registry", "GET", f"/internal/profiles/{profile_id}/attributes",
                               identity=SYSTEM)
    if resp.status_code in (404, 422):
        return None
    if resp.status_code != 200:  # the event is retried by the dispatcher
        raise ServiceUnavailable()
    body: dict[str, Any] = resp.json()
    return body


async def project_profile(uow: UnitOfWork, event: EventEnvelope, peers: Peers) -> None:
    """Any registry event about a person: refresh their row (and a merge's survivor)."""
    if event.subject_type != "profile":
        return
    ids = [event.subject_id]
    survivor = event.data.get("merged_into")
    if isinstance(survivor, str) and 0 < len(survivor) <= 36:
        ids.append(survivor)
    for pid in ids:
        await store_attributes(uow, pid, await fetch_attributes(peers, pid))


async def rebuild(db: Database, peers: Peers, *, page: int = 1000) -> int:
    """Backfill the projection from the registry (``ruta rebuild-report-people``): every
    person, page by page; a page and its upserts commit together. Rows of people the
    registry no longer lists as active or cancelled are removed."""
    after, seen = "", 0
    while True:
        resp = await peers.request("registry", "GET", "/internal/profiles/attributes",
                                   identity=SYSTEM, params={"after": after, "limit": page})
        if resp.status_code != 200:
            raise ServiceUnavailable()
        body = resp.json()
        items: list[dict[str, Any]] = body["items"]
        async with db.uow() as uow:
            if items:
                # people between the previous page's last id and this page's last are exactly
                # this page's: drop rows in that range the registry did not list
                listed = {a["id"] for a in items}
                stale = (await uow.session.scalars(select(RP.profile_id).where(
                    RP.profile_id > after, RP.profile_id <= items[-1]["id"]))).all()
                for pid in set(stale) - listed:
                    await uow.session.execute(delete(RP).where(RP.profile_id == pid))
            elif after:
                await uow.session.execute(delete(RP).where(RP.profile_id > after))
            else:
                await uow.session.execute(delete(RP))
            for a in items:
                await store_attributes(uow, a["id"], a)
            await uow.commit()
        seen += len(items)
        if body.get("next_after") is None:
            if items:
                async with db.uow() as uow:
                    await uow.session.execute(delete(RP).where(RP.profile_id > items[-1]["id"]))
                    await uow.commit()
            return seen
        after = body["next_after"]
