"""Every query of the registry. Never commits: the use case owns the transaction.

The hot paths (read one profile, search, bulk insert) use Core statements: one round trip
each, rows mapped straight to response dictionaries, no ORM identity map to fill. The reads
that are a single raw statement on the asyncpg pool are in services.registry.hot_reads.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    DateTime,
    Row,
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import Table

from services.registry import search
from services.registry.access import sharing_consent
from services.registry.hot_reads import imported_from_sql, profile_record
from services.registry.models import (
    Consent,
    IdentityDocument,
    Profile,
    ProfileStatus,
    access_denials_table,
    audit_table,
    consents_table,
    documents_table,
    profiles_table,
    transfers_table,
)
from shared.db import driver_connection

P = profiles_table.c
D = documents_table.c
C = consents_table.c
T = transfers_table.c
A = audit_table.c
AD = access_denials_table.c
# The key one row of access_denials aggregates (its unique constraint, the upsert's target).
_DENIAL_KEY = ("profile_id", "day", "prober_organisation_id", "prober_subject", "prober_role",
               "method", "route")

# Above this many shared profiles the visibility filter uses a subquery, not a list.
_SHARED_LIST_LIMIT = 2000

# The hot read on PostgreSQL, as driver statements (asyncpg caches them prepared): the same
# query as get_with_documents, without SQLAlchemy's per-row processing (~0.5 ms of CPU less).
_PG_READ = (
    "SELECT p.*, " + imported_from_sql("p.id") + ","
    " d.id AS d_id, d.doc_type AS d_type, d.number AS d_number,"
    " d.issuing_country AS d_country, d.expiry_date AS d_expiry,"
    " d.verification AS d_verification, d.authorises_work AS d_authorises_work,"
    " d.created_at AS d_created_at"
    " FROM profiles p LEFT OUTER JOIN identity_documents d ON d.profile_id = p.id"
    " WHERE p.id = $1 ORDER BY d.created_at, d.id")
_PG_AUDIT = (
    "INSERT INTO audit_log (profile_id, at, action, actor_subject, actor_role,"
    " actor_organisation_id, fields, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")

class DuplicateKey(Exception):
    """A unique key (a document number) was taken by another transaction."""


DOC_COLUMNS = [D.id.label("d_id"), D.doc_type.label("d_type"), D.number.label("d_number"),
               D.issuing_country.label("d_country"), D.expiry_date.label("d_expiry"),
               D.verification.label("d_verification"),
               D.authorises_work.label("d_authorises_work"),
               D.created_at.label("d_created_at")]


def _latest_import(column: Any) -> Any:
    """One column of the person's latest import (hot_reads.imported_from_sql, as SQLAlchemy;
    correlated to the profile the enclosing query reads)."""
    return (select(column).where(T.profile_id == P.id, T.direction == "in")
            .order_by(T.at.desc(), T.id.desc()).limit(1).scalar_subquery())


IMPORTED_FROM_COLUMNS = [_latest_import(T.peer_id).label("imported_deployment"),
                         _latest_import(T.peer_profile_id).label("imported_profile_id")]


# The closest spellings of each typed token among the tokens people carry (pg_trgm over the
# small ``name_tokens`` dictionary): at most SPELLINGS_PER_TOKEN each, best first.
_SPELLINGS = text(
    "SELECT q.tok, s.token FROM unnest(CAST(:tokens AS text[])) AS q(tok)"
    " CROSS JOIN LATERAL (SELECT n.token FROM name_tokens n WHERE n.token % q.tok"
    " ORDER BY similarity(n.token, q.tok) DESC, n.token"
    f" LIMIT {search.SPELLINGS_PER_TOKEN}) s")


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- single profile ------------------------------------------------------------------
    @property
    def is_postgres(self) -> bool:
        bind = self.session.bind
        return bind is not None and bind.dialect.name == "postgresql"

    async def _driver(self) -> Any:
        return await driver_connection(self.session)

    async def get_with_documents(self, profile_id: str) -> Sequence[Any]:
        """The profile row joined with its documents (one row per document, or one row
        with null document columns): one round trip for the whole read."""
        if self.is_postgres:
            return [profile_record(rec)
                    for rec in await (await self._driver()).fetch(_PG_READ, profile_id)]
        q = (select(profiles_table, *IMPORTED_FROM_COLUMNS, *DOC_COLUMNS)
             .outerjoin(documents_table, D.profile_id == P.id)
             .where(P.id == profile_id)
             .order_by(D.created_at, D.id))
        return list((await self.session.execute(q)).all())

    async def imported_from(self, profile_id: str) -> dict[str, str] | None:
        """The latest import's provenance, for the answers that present a profile outside
        the read (a rectification, a merge)."""
        row = (await self.session.execute(select(*IMPORTED_FROM_COLUMNS).select_from(
            profiles_table).where(P.id == profile_id))).first()
        if row is None or row.imported_deployment is None:
            return None
        return {"deployment": row.imported_deployment,
                "profile_id": row.imported_profile_id or ""}

    async def get(self, profile_id: str) -> Profile | None:
        return await self.session.get(Profile, profile_id)

    async def get_for_update(self, profile_id: str) -> Profile | None:
        q = select(Profile).where(Profile.id == profile_id)
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            q = q.with_for_update()
        return (await self.session.scalars(q)).first()

    async def documents_of(self, profile_ids: Collection[str]) -> list[IdentityDocument]:
        q = (select(IdentityDocument).where(IdentityDocument.profile_id.in_(list(profile_ids)))
             .order_by(IdentityDocument.created_at, IdentityDocument.id))
        return list((await self.session.scalars(q)).all())

    async def consents_naming(self, profile_id: str, org: str) -> list[Row[Any]]:
        """The person's consent decisions naming ``org`` as recipient: what may share the
        profile with it (services.registry.access decides which do)."""
        return list((await self.session.execute(
            select(consents_table).where(C.profile_id == profile_id,
                                         C.recipient_organisation_id == org)
            .order_by(C.recorded_at, C.id))).all())

    async def consents_naming_among(self, org: str, profile_ids: Collection[str]
                                    ) -> dict[str, list[Row[Any]]]:
        """:meth:`consents_naming` for several profiles at once, by profile id."""
        out: dict[str, list[Row[Any]]] = {}
        if not profile_ids:
            return out
        rows = (await self.session.execute(
            select(consents_table).where(C.recipient_organisation_id == org,
                                         C.profile_id.in_(list(profile_ids)))
            .order_by(C.recorded_at, C.id))).all()
        for r in rows:
            out.setdefault(r.profile_id, []).append(r)
        return out

    async def shared_profile_ids(self, org: str, now: datetime) -> list[str] | None:
        """Ids shared with ``org``; None when there are too many to list (use a subquery)."""
        rows = (await self.session.execute(
            select(C.profile_id).where(sharing_consent(org, now)).distinct()
            .limit(_SHARED_LIST_LIMIT + 1))).scalars().all()
        return None if len(rows) > _SHARED_LIST_LIMIT else list(rows)

    # --- lists and search ----------------------------------------------------------------
    async def list_page(self, *, where: Sequence[ColumnElement[bool]], after: str | None,
                        limit: int) -> list[Row[Any]]:
        q = select(*SUMMARY_COLUMNS).where(*where)
        if after:
            q = q.where(P.id > after)
        q = q.order_by(P.id).limit(limit)
        return list((await self.session.execute(q)).all())

    async def by_document(self, *, numbers: list[str], doc_type: str | None,
                          where: Sequence[ColumnElement[bool]], after: str | None,
                          limit: int) -> list[Row[Any]]:
        cond: list[ColumnElement[bool]] = [D.number.in_(numbers)]
        if doc_type:
            cond.append(D.doc_type == doc_type)
        q = (select(*SUMMARY_COLUMNS).where(P.id.in_(select(D.profile_id).where(*cond)),
                                            *where))
        if after:
            q = q.where(P.id > after)
        q = q.order_by(P.id).limit(limit)
        return list((await self.session.execute(q)).all())

    async def token_candidates(self, *, query_key: str,
                               where: Sequence[ColumnElement[bool]], all_but_one: bool = False
                               ) -> list[tuple[str, str]] | None:
        """PostgreSQL: (id, search_key) of the profiles carrying every typed token (or a
        close spelling of it), through the GIN index over the key's tokens; None when the
        query has too few tokens for that to be selective (the trigram statement then).

        Each typed token is first corrected against the dictionary of tokens people carry
        (``name_tokens``, trigram-indexed, small): its closest spellings, itself included.
        A token with no close spelling at all is left out (a slip too large to correct, or
        a name nobody carries), and at least two must remain. The GIN scan intersects the
        tokens' posting lists driven by the rarest one, so a common given name or surname
        costs little once one rarer token is typed; surname order does not matter (an
        array), nor accents (the key is folded). ``all_but_one``: every token but any one
        (a slip the dictionary could not correct), for three tokens or more."""
        typed = sorted(set(search.tokens(query_key)))
        if len(typed) < 2:
            return None
        rows = (await self.session.execute(_SPELLINGS, {"tokens": typed})).all()
        spellings: dict[str, set[str]] = {}
        for tok, alt in rows:
            spellings.setdefault(tok, {tok}).add(alt)
        if len(spellings) < (3 if all_but_one else 2):
            return None
        key_tokens = func.string_to_array(P.search_key, literal_column("' '"))
        rank = func.similarity(literal(query_key), P.search_key)
        carries = [key_tokens.op("&&")(cast(literal(sorted(alts), ARRAY(Text)), ARRAY(Text)))
                   for _, alts in sorted(spellings.items())]
        match = (or_(*[and_(*carries[:i], *carries[i + 1:]) for i in range(len(carries))])
                 if all_but_one else and_(*carries))
        q = (select(P.id, P.search_key).where(match, *where)
             .order_by(rank.desc()).limit(search.CANDIDATE_LIMIT))
        return [(r[0], r[1]) for r in (await self.session.execute(q)).all()]

    async def name_candidates(self, *, query_key: str, where: Sequence[ColumnElement[bool]],
                              is_postgres: bool) -> list[tuple[str, str]]:
        """(id, search_key) of the profiles worth ranking for ``query_key``."""
        if is_postgres:
            # pg_trgm through the GIN index: `%` (similarity >= 0.3) catches whole names,
            # `%>` (word similarity >= 0.6) a part of one ("hernandes" in a full name)
            q_lit = literal(query_key)
            rank = (func.similarity(q_lit, P.search_key)
                    + func.word_similarity(q_lit, P.search_key))
            q = (select(P.id, P.search_key)
                 .where(or_(P.search_key.op("%")(q_lit), P.search_key.op("%>")(q_lit)),
                        *where)
                 .order_by(rank.desc()).limit(search.CANDIDATE_LIMIT))
            return [(r[0], r[1]) for r in (await self.session.execute(q)).all()]
        q = select(P.id, P.search_key).where(P.search_key.is_not(None), *where)
        rows = [(r[0], r[1]) for r in (await self.session.execute(q)).all()]
        if len(rows) <= search.CANDIDATE_LIMIT:
            return rows
        return search.prefilter(query_key, rows)

    async def summaries(self, ids: Collection[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = (await self.session.execute(
            select(*SUMMARY_COLUMNS).where(P.id.in_(list(ids))))).all()
        return {r.id: r for r in rows}

    async def born_on(self, dates: Iterable[date], *, exclude: str | None,
                      where: Sequence[ColumnElement[bool]]) -> list[Row[Any]]:
        q = select(*SUMMARY_COLUMNS, P.search_key).where(
            P.birth_date.in_(list(dates)), P.status == ProfileStatus.ACTIVE, *where)
        if exclude:
            q = q.where(P.id != exclude)
        return list((await self.session.execute(q.limit(200))).all())  # type: ignore[arg-type]

    # --- documents -----------------------------------------------------------------------
    async def find_documents(self, keys: Collection[tuple[str, str, str]]
                             ) -> dict[tuple[str, str, str], tuple[str, str, str, str]]:
        """(type, country, number) → (profile id, organisation, region, status) for the
        documents already registered among ``keys``."""
        if not keys:
            return {}
        out: dict[tuple[str, str, str], tuple[str, str, str, str]] = {}
        wanted = set(keys)
        numbers = sorted({k[2] for k in keys})
        for i in range(0, len(numbers), 500):
            rows = (await self.session.execute(
                select(D.doc_type, D.issuing_country, D.number, P.id, P.organisation_id,
                       P.region, P.status)
                .join(profiles_table, P.id == D.profile_id)
                .where(D.number.in_(numbers[i:i + 500])))).all()
            for r in rows:
                key = (r[0], r[1], r[2])
                if key in wanted:
                    out[key] = (r[3], r[4], r[5], r[6])
        return out

    # --- consents ------------------------------------------------------------------------
    async def consents_of(self, profile_id: str) -> list[Consent]:
        q = (select(Consent).where(Consent.profile_id == profile_id)
             .order_by(Consent.recorded_at, Consent.id))
        return list((await self.session.scalars(q)).all())

    async def consent(self, profile_id: str, consent_id: str) -> Consent | None:
        q = select(Consent).where(Consent.id == consent_id, Consent.profile_id == profile_id)
        return (await self.session.scalars(q)).first()

    # --- merges --------------------------------------------------------------------------
    async def merged_into(self, survivor_id: str) -> list[str]:
        rows = await self.session.execute(select(P.id).where(P.merged_into == survivor_id)
                                          .order_by(P.id))
        return list(rows.scalars().all())

    async def move_children(self, from_id: str, to_id: str) -> tuple[int, int]:
        docs = await self.session.execute(
            update(documents_table).where(D.profile_id == from_id).values(profile_id=to_id))
        cons = await self.session.execute(
            update(consents_table).where(C.profile_id == from_id).values(profile_id=to_id))
        await self.session.execute(
            update(profiles_table).where(P.merged_into == from_id).values(merged_into=to_id))
        return int(getattr(docs, "rowcount", 0) or 0), int(getattr(cons, "rowcount", 0) or 0)

    # --- writes in bulk ------------------------------------------------------------------
    async def insert_many(self, profiles: list[dict[str, Any]], documents: list[dict[str, Any]],
                          consents: list[dict[str, Any]]) -> None:
        """New rows, in this transaction. Raises :class:`DuplicateKey` when a document is
        already registered (a concurrent writer won). PostgreSQL: COPY, in the transaction."""
        try:
            for table, rows in ((profiles_table, profiles), (documents_table, documents),
                                (consents_table, consents)):
                await self._insert(table, rows)
        except IntegrityError as exc:
            raise DuplicateKey() from exc
        except Exception as exc:
            if type(exc).__name__ == "UniqueViolationError":  # asyncpg, under COPY
                raise DuplicateKey() from exc
            raise

    async def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.is_postgres and len(rows) > 1:
            columns = [c.name for c in table.columns if c.name in rows[0]]
            json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
            records = [tuple(
                (orjson.dumps(r[c]).decode() if r.get(c) is not None else None)
                if c in json_cols else r.get(c) for c in columns) for r in rows]
            await (await self._driver()).copy_records_to_table(
                table.name, records=records, columns=columns)
            return
        await self.session.execute(insert(table), rows)

    async def add_audit(self, rows: list[dict[str, Any]]) -> None:
        if len(rows) == 1 and self.is_postgres:
            r = rows[0]
            await (await self._driver()).execute(
                _PG_AUDIT, r["profile_id"], r["at"], r["action"], r["actor_subject"],
                r["actor_role"], r["actor_organisation_id"], orjson.dumps(r["fields"]).decode(),
                r["request_id"])
        elif rows:
            await self._insert(audit_table, rows)

    # --- audit ---------------------------------------------------------------------------
    async def audit_page(self, profile_ids: list[str], before: int | None, limit: int
                         ) -> list[Row[Any]]:
        q = select(audit_table).where(A.profile_id.in_(profile_ids))
        if before is not None:
            q = q.where(A.id < before)
        return list((await self.session.execute(q.order_by(A.id.desc()).limit(limit))).all())

    async def audit_all(self, profile_ids: list[str], limit: int = 10_000) -> list[Row[Any]]:
        q = (select(audit_table).where(A.profile_id.in_(profile_ids)).order_by(A.id)
             .limit(limit))
        return list((await self.session.execute(q)).all())

    # --- access denials ------------------------------------------------------------------
    async def record_denial(self, profile_id: str, probe: dict[str, Any], at: datetime
                            ) -> None:
        """One statement whatever ``profile_id`` is: an INSERT ... SELECT from ``profiles``
        that writes (or counts one more attempt on today's row) only when the person exists,
        so a missing id costs the same primary-key lookup and writes nothing."""
        ins = (postgresql.insert if self.is_postgres else sqlite.insert)(access_denials_table)
        values = select(P.id, literal(at.date(), Date()),
                        *(literal(probe[k]) for k in _DENIAL_KEY[2:]),
                        literal(at, DateTime(timezone=True)),
                        literal(at, DateTime(timezone=True)), literal(1)
                        ).where(P.id == profile_id)
        stmt = ins.from_select([*_DENIAL_KEY, "first_at", "last_at", "attempts"], values)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=list(_DENIAL_KEY),
            set_={"last_at": stmt.excluded.last_at, "attempts": AD.attempts + 1}))

    async def denials_page(self, profile_ids: list[str], before: int | None, limit: int
                           ) -> list[Row[Any]]:
        q = select(access_denials_table).where(AD.profile_id.in_(profile_ids))
        if before is not None:
            q = q.where(AD.id < before)
        return list((await self.session.execute(q.order_by(AD.id.desc()).limit(limit))).all())

    # --- statistics ----------------------------------------------------------------------
    async def statistics(self, *, where: Sequence[ColumnElement[bool]], today: date
                         ) -> list[Row[Any]]:
        band = age_band_expression(today)
        q = (select(P.sex, band.label("age_band"), P.nationality, P.population_type, P.region,
                    P.status, func.count().label("n"))
             .where(P.status.in_([ProfileStatus.ACTIVE, ProfileStatus.ERASED]),
                    P.opt_out_statistics.is_(False), *where)
             .group_by(P.sex, band, P.nationality, P.population_type, P.region, P.status))
        return list((await self.session.execute(q)).all())


SUMMARY_COLUMNS = [P.id, P.organisation_id, P.status, P.version, P.given_names,
                   P.first_surname, P.second_surname, P.birth_date, P.sex, P.nationality,
                   P.population_type, P.region]


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_band_expression(today: date) -> ColumnElement[Any]:
    """The age band as SQL, from cut-off birth dates computed for ``today`` (portable)."""
    bounds = [(18, "0-17"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (60, "45-59")]
    whens = [(P.birth_date > years_before(today, y), label) for y, label in bounds]
    return case((P.birth_date.is_(None), P.erased_age_band), *whens, else_="60+")
