"""Finding people: lists and search by name or document, and near matches of a person (the
usual shape of someone registered twice). Every profile returned is audited."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement

from services.registry import documents as docs
from services.registry import search
from services.registry.access import visible_clause, visible_clause_listed
from services.registry.hot_reads import by_document_audited
from services.registry.models import ProfileStatus, profiles_table
from services.registry.presenters import SUMMARY_GROUPS, dumps, summary_dict
from services.registry.repository import ProfileRepository
from services.registry.usecases.records import audit_row
from services.registry.usecases.scope import READERS, load_visible, require_role
from shared.authz import CASELOAD_ROLES
from shared.clock import utcnow
from shared.db import Database
from shared.identity import Identity
from shared.pagination import CursorCodec

P = profiles_table.c


@dataclass(frozen=True)
class SearchFilters:
    q: str | None = None
    document: str | None = None
    document_type: str | None = None
    region: str | None = None
    status: str = ProfileStatus.ACTIVE
    organisation_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"q": self.q, "document": self.document, "document_type": self.document_type,
                "region": self.region, "status": self.status,
                "organisation_id": self.organisation_id}


async def search_profiles(*, db: Database, identity: Identity, cursors: CursorCodec,
                          filters: SearchFilters, limit: int, cursor: str | None
                          ) -> bytes:
    require_role(identity, READERS)
    fp = filters.as_dict()
    position = cursors.decode(cursor, "profiles", fp, caller=identity) if cursor else None
    now = utcnow()
    if filters.document is not None and filters.q is None and db.is_postgres:
        return await _by_document(db=db, identity=identity, cursors=cursors, filters=filters,
                                  limit=limit, after=str(position[0]) if position else None,
                                  now=now)
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        where: list[ColumnElement[bool]] = [P.status == filters.status]
        if filters.region:
            where.append(P.region == filters.region)
        if filters.organisation_id:
            where.append(P.organisation_id == filters.organisation_id)
        if filters.q is not None:
            items, next_pos = await _by_name(repo, identity, now, filters.q, where, position,
                                             limit, is_postgres=db.is_postgres)
        else:
            items, next_pos = await _page(repo, identity, now, filters, where, position, limit)
        if items:
            await repo.add_audit([audit_row(identity, it["id"], "search" if (
                filters.q or filters.document) else "list", SUMMARY_GROUPS, now)
                for it in items])
            await uow.commit()
    nxt = cursors.encode("profiles", fp, next_pos, caller=identity) if next_pos else None
    return dumps({"items": items, "next_cursor": nxt})


async def _by_name(repo: ProfileRepository, identity: Identity, now: datetime, q: str,
                   where: list[ColumnElement[bool]], position: list[Any] | None, limit: int,
                   *, is_postgres: bool) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """Best matches first; the cursor is the last (score, id) of the page."""
    key = search.normalise(q) or ""
    where.append(visible_clause(identity, now))
    ranked: list[tuple[float, str]] = []
    if is_postgres:
        # the selective path first: every token, then every token but one (a slip the
        # dictionary could not correct); what neither answers (one token, two slips) goes
        # to the trigram statement, as before
        for all_but_one in (False, True):
            tokens = await repo.token_candidates(query_key=key, where=where,
                                                 all_but_one=all_but_one)
            ranked = search.rank(key, tokens) if tokens else []
            if ranked or tokens is None:
                break
    if not ranked:
        candidates = await repo.name_candidates(query_key=key, where=where,
                                                is_postgres=is_postgres)
        ranked = search.rank(key, candidates)
    if position is not None:
        ps, pid = float(position[0]), str(position[1])
        ranked = [(s, i) for s, i in ranked if (s < ps) or (s == ps and i > pid)]
    page = ranked[:limit]
    rows = await repo.summaries([i for _, i in page])
    items = [summary_dict(rows[i], s) for s, i in page if i in rows]
    next_pos = [page[-1][0], page[-1][1]] if len(ranked) > limit and page else None
    return items, next_pos


async def _page(repo: ProfileRepository, identity: Identity, now: datetime,
                filters: SearchFilters, where: list[ColumnElement[bool]],
                position: list[Any] | None, limit: int
                ) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """A page by id: the documents' holders, or the whole visible caseload."""
    after = str(position[0]) if position else None
    if filters.document is not None:
        where.append(visible_clause(identity, now))
        found = await repo.by_document(
            numbers=docs.search_variants(filters.document),
            doc_type=filters.document_type, where=where, after=after,
            limit=limit + 1)
    else:
        org = identity.organisation_id
        shared = await repo.shared_profile_ids(org, now) if org else []
        where.append(visible_clause_listed(identity, now, shared))
        found = await repo.list_page(where=where, after=after, limit=limit + 1)
    items = [summary_dict(r) for r in found[:limit]]
    return items, [items[-1]["id"]] if len(found) > limit else None


async def _by_document(*, db: Database, identity: Identity, cursors: CursorCodec,
                       filters: SearchFilters, limit: int, after: str | None, now: datetime
                       ) -> bytes:
    """Lookup by document on PostgreSQL: the page and its audit rows in one statement."""
    assert filters.document is not None
    async with db.statement() as conn:
        found = await by_document_audited(
            conn, numbers=docs.search_variants(filters.document),
            doc_type=filters.document_type, status=filters.status, region=filters.region,
            organisation_id=filters.organisation_id, identity=identity, after=after,
            limit=limit, audit=audit_row(identity, "", "search", SUMMARY_GROUPS, now))
    items = [summary_dict(r) for r in found[:limit]]
    nxt = (cursors.encode("profiles", filters.as_dict(), [items[-1]["id"]], caller=identity)
           if len(found) > limit else None)
    return dumps({"items": items, "next_cursor": nxt})


async def near_matches(repo: ProfileRepository, identity: Identity, now: datetime, *,
                       birth: date, nationality: str, key: str | None,
                       exclude: str | None) -> list[dict[str, Any]]:
    """Visible active profiles with the same (or day/month-swapped) birth date and a similar
    name: the usual shape of a person registered twice."""
    if not key:
        return []
    dates = [birth]
    if birth.day <= 12 and birth.day != birth.month:
        with contextlib.suppress(ValueError):
            dates.append(birth.replace(month=birth.day, day=birth.month))
    rows = await repo.born_on(dates, exclude=exclude, where=[visible_clause(identity, now)])
    out = []
    for r in rows:
        if not r.search_key:
            continue
        s = round(max(search.score(key, r.search_key), search.score(r.search_key, key)), 1)
        if s < search.MATCH_CUTOFF:
            continue
        reasons = ["name", "birth_date" if r.birth_date == birth
                   else "birth_date_day_month_swapped"]
        if r.nationality == nationality:
            reasons.append("nationality")
        out.append({"id": r.id, "score": s, "reasons": reasons,
                    "given_names": r.given_names, "first_surname": r.first_surname,
                    "second_surname": r.second_surname, "birth_date": r.birth_date,
                    "nationality": r.nationality, "region": r.region})
    out.sort(key=lambda c: (-c["score"], c["id"]))
    return out[:20]


async def find_duplicates(*, db: Database, identity: Identity, profile_id: str) -> bytes:
    require_role(identity, CASELOAD_ROLES)
    now = utcnow()
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        p, _ = await load_visible(repo, identity, profile_id, now, owner_only=True)
        items = []
        if p.birth_date is not None:
            items = await near_matches(repo, identity, now, birth=p.birth_date,
                                       nationality=p.nationality, key=p.search_key,
                                       exclude=p.id)
        await repo.add_audit([audit_row(identity, p.id, "duplicates", ["identity"], now)] + [
            audit_row(identity, c["id"], "search", SUMMARY_GROUPS, now) for c in items])
        await uow.commit()
    return dumps({"items": items})
