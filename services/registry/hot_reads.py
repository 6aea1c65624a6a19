"""The two hot reads as single raw statements on the asyncpg pool (docs/decisions/0003):
one profile, and the lookup by document. Each writes its audit rows in a CTE of the read
itself, and only for the rows the caller may see; their visibility fragments come from
services.registry.access, beside the rule's other forms (keep the text byte-stable: asyncpg
caches the statements prepared).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

from services.registry.access import owner_sql, visible_sql
from shared.db import Database
from shared.identity import Identity, Role

JSON_COLUMNS = ("languages", "skills", "experience")


def imported_from_sql(profile_id: str) -> str:
    """The latest import's provenance (issue 21) as two scalar subqueries over ``transfers``
    (indexed by profile): part of the same statement, so the read stays one round trip. The
    ORM path (ProfileRepository.get_with_documents) selects the same two columns."""
    latest = (" FROM transfers t WHERE t.profile_id = " + profile_id +
              " AND t.direction = 'in' ORDER BY t.at DESC, t.id DESC LIMIT 1)")
    return ("(SELECT t.peer_id" + latest + " AS imported_deployment,"
            " (SELECT t.peer_profile_id" + latest + " AS imported_profile_id")

# The two hot paths as single statements (PostgreSQL, Database.statement()): the audit row is
# written by a CTE of the read itself, and only for rows the caller may see. (The profile read
# inside a unit of work is ProfileRepository.get_with_documents.)
_AUDIT_COLUMNS = ("INSERT INTO audit_log (profile_id, at, action, actor_subject, actor_role,"
                  " actor_organisation_id, fields, request_id)")
# $2 at, $3 subject, $4 role, $5 organisation, $6 fields (json), $7 request id,
# $8 regions the caller is limited to ({} = none)
PG_READ_AUDITED = (
    "WITH p AS (SELECT profiles.*, " + imported_from_sql("profiles.id") +
    " FROM profiles WHERE id = $1),"
    " audited AS (" + _AUDIT_COLUMNS +
    " SELECT p.id, $2::timestamptz, 'read', $3::varchar, $4::varchar, $5::varchar, $6::json,"
    " $7::varchar FROM p WHERE p.status = 'active' AND "
    + owner_sql(org="$5::varchar", regions="$8::varchar[]") +
    " RETURNING 1)"
    " SELECT p.*, (SELECT count(*) FROM audited) AS audited, d.id AS d_id,"
    " d.doc_type AS d_type, d.number AS d_number, d.issuing_country AS d_country,"
    " d.expiry_date AS d_expiry, d.verification AS d_verification,"
    " d.authorises_work AS d_authorises_work, d.created_at AS d_created_at"
    " FROM p LEFT OUTER JOIN identity_documents d ON d.profile_id = p.id"
    " ORDER BY d.created_at, d.id")
# The consent check of a person the caller's organisation registered (an NGO about to refer
# her: once per referral), audited in the same statement when the profile is active and the
# caller's (in their regions); the person's consents come with it. Parameters as the read's.
PG_CONSENT_CHECK_AUDITED = (
    "WITH p AS (SELECT id, organisation_id, region, status FROM profiles WHERE id = $1),"
    " audited AS (" + _AUDIT_COLUMNS +
    " SELECT p.id, $2::timestamptz, 'consent_check', $3::varchar, $4::varchar, $5::varchar,"
    " $6::json, $7::varchar FROM p WHERE p.status = 'active' AND "
    + owner_sql(org="$5::varchar", regions="$8::varchar[]") +
    " RETURNING 1)"
    " SELECT p.id, p.organisation_id, p.region, (SELECT count(*) FROM audited) AS audited,"
    " c.id AS c_id, c.purpose AS c_purpose, c.recipient_organisation_id AS c_recipient,"
    " c.programme_id AS c_programme, c.status AS c_status, c.valid_until AS c_valid_until,"
    " c.recorded_at AS c_recorded_at"
    " FROM p LEFT OUTER JOIN consents c ON c.profile_id = p.id ORDER BY c.recorded_at, c.id")
_CONSENT_FIELDS = {"id": "c_id", "purpose": "c_purpose",
                   "recipient_organisation_id": "c_recipient", "programme_id": "c_programme",
                   "status": "c_status", "valid_until": "c_valid_until",
                   "recorded_at": "c_recorded_at"}
# $1 numbers, $2 document type or null, $3 status, $4 region or null, $5 organisation or
# null (filters); $6 caller's organisation, $7 caller is a provider (sees shared only),
# $8 caller's regions ({} = all), $9 after id or null, $10 page size; audit as above from $11
PG_BY_DOCUMENT_AUDITED = (
    "WITH found AS (SELECT p.id, p.organisation_id, p.status, p.version, p.given_names,"
    " p.first_surname, p.second_surname, p.birth_date, p.sex, p.nationality,"
    " p.population_type, p.region FROM profiles p"
    " WHERE p.id IN (SELECT d.profile_id FROM identity_documents d"
    " WHERE d.number = ANY($1::varchar[]) AND ($2::varchar IS NULL OR d.doc_type = $2))"
    " AND p.status = $3::varchar AND ($4::varchar IS NULL OR p.region = $4)"
    " AND ($5::varchar IS NULL OR p.organisation_id = $5)"
    " AND " + visible_sql(org="$6::varchar", provider="$7::boolean", regions="$8::varchar[]",
                          now="$11::timestamptz") +
    " AND ($9::varchar IS NULL OR p.id > $9)"
    " ORDER BY p.id LIMIT $10::int + 1),"
    " audited AS (" + _AUDIT_COLUMNS +
    " SELECT id, $11::timestamptz, 'search', $12::varchar, $13::varchar, $14::varchar,"
    " $15::json, $16::varchar FROM (SELECT id FROM found ORDER BY id LIMIT $10::int) page"
    " RETURNING 1)"
    " SELECT found.*, (SELECT count(*) FROM audited) AS audited FROM found ORDER BY id")


def owner_statement_serves(db: Database, identity: Identity) -> bool:
    """Whether a one-statement path (the profile read, the consent check) may serve this
    caller: on PostgreSQL, a caller of an organisation, neither a provider (who sees only
    what is shared) nor the system (whose checks are not audited). The statement then
    decides whether the profile is the caller's own; anything else takes the general path."""
    return db.is_postgres and identity.role not in (Role.PROVIDER, Role.SYSTEM) \
        and bool(identity.organisation_id)


def _audit_args(audit: dict[str, Any]) -> tuple[Any, ...]:
    """An audit row (usecases.records.audit_row) as the statements' audit parameters:
    at, subject, role, organisation, fields (JSON), request id."""
    return (audit["at"], audit["actor_subject"], audit["actor_role"],
            audit["actor_organisation_id"], orjson.dumps(audit["fields"]).decode(),
            audit["request_id"])


async def read_audited(conn: Any, *, profile_id: str, audit: dict[str, Any],
                       regions: Collection[str]) -> list[Record]:
    """The profile joined with its documents, audited in the same statement when it is
    active and owned by the reader's organisation (in their regions): ``audited`` says so.
    Anything else (shared, merged, erased) is left to the general path."""
    return [profile_record(rec) for rec in await conn.fetch(
        PG_READ_AUDITED, profile_id, *_audit_args(audit), sorted(regions))]


async def consent_check_audited(conn: Any, *, profile_id: str, audit: dict[str, Any],
                                regions: Collection[str]) -> tuple[Record, list[Record]]:
    """The profile (id, organisation, region, ``audited``) and its consents as the rules of
    services.registry.consent_rules read them; ``audited`` is 0 when the profile is not the
    caller's active one (left to the general path, which audits as the rules say)."""
    rows = await conn.fetch(
        PG_CONSENT_CHECK_AUDITED, profile_id, *_audit_args(audit), sorted(regions))
    if not rows:
        return Record(audited=0), []
    consents = [Record({k: r[c] for k, c in _CONSENT_FIELDS.items()})
                for r in rows if r["c_id"] is not None]
    return Record(rows[0]), consents


def profile_record(rec: Any) -> Record:
    """A driver row of ``profiles``, its JSON columns decoded (SQLAlchemy would have)."""
    row = Record(rec)
    for name in JSON_COLUMNS:
        if isinstance(row[name], str):
            row[name] = orjson.loads(row[name])
    return row


async def by_document_audited(conn: Any, *, numbers: list[str], doc_type: str | None,
                              status: str, region: str | None, organisation_id: str | None,
                              identity: Identity, after: str | None, limit: int,
                              audit: dict[str, Any]) -> list[Record]:
    """Profiles with one of ``numbers`` that ``identity`` may see (as visible_clause says),
    ``limit`` + 1 of them from ``after``; the first ``limit`` are audited by the statement."""
    rows = await conn.fetch(
        PG_BY_DOCUMENT_AUDITED, numbers, doc_type, status, region, organisation_id,
        identity.organisation_id, identity.role is Role.PROVIDER, sorted(identity.regions),
        after, limit, *_audit_args(audit))
    return [Record(r) for r in rows]


class Record(dict[str, Any]):
    """A driver row with attribute access, like SQLAlchemy's rows."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
