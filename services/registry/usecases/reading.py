"""Reading one profile: the hot path (docs/decisions/0003)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.registry.access import Access
from services.registry.crypto import SensitiveCipher
from services.registry.hot_reads import owner_statement_serves, read_audited
from services.registry.presenters import (
    READ_GROUPS,
    document_dict,
    dumps,
    imported_from,
    profile_dict,
)
from services.registry.repository import ProfileRepository
from services.registry.usecases.records import audit_row, decrypt_sensitive
from services.registry.usecases.scope import (
    READERS,
    load_access,
    not_found,
    require_live,
    require_role,
)
from shared.clock import utcnow
from shared.db import Database
from shared.identity import Identity, Permission


async def read_profile(*, db: Database, identity: Identity, cipher: SensitiveCipher,
                       profile_id: str) -> tuple[bytes, int]:
    """The hot path. On PostgreSQL the common case (the owner reads an active profile) is
    one statement that reads and audits; everything else, and SQLite, goes through a unit
    of work: one joined SELECT, a consent lookup for a reader outside the owner, one audit
    INSERT. An id that answers nothing in one statement takes the general path too, so a
    missing person costs what one outside scope does (usecases.scope)."""
    require_role(identity, READERS)
    now = utcnow()
    rows: Sequence[Any]
    if owner_statement_serves(db, identity):  # READERS has no system caller
        # the common case in one statement: the owner's organisation reads an active profile
        sensitive = identity.has(Permission.SENSITIVE_READ)
        audit = audit_row(identity, profile_id, "read", _read_groups(sensitive), now)
        async with db.statement() as conn:
            rows = await read_audited(conn, profile_id=profile_id, audit=audit,
                                      regions=identity.regions)
        if rows and rows[0].audited:
            return _read_body(cipher, rows, Access(owner=True, sensitive=sensitive),
                              now), rows[0].version
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        rows = await repo.get_with_documents(profile_id)
        if not rows:
            raise await not_found(repo, identity, profile_id)
        p = rows[0]
        access = await require_live(repo, identity, p,
                                    await load_access(repo, identity, p, now), now)
        body = _read_body(cipher, rows, access, now)
        await repo.add_audit([audit_row(identity, p.id, "read",
                                        _read_groups(access.sensitive), now)])
        await uow.commit()
    return body, p.version


def _read_groups(sensitive: bool) -> list[str]:
    return [*READ_GROUPS, "sensitive"] if sensitive else READ_GROUPS


def _read_body(cipher: SensitiveCipher, rows: Sequence[Any], access: Access, now: datetime
               ) -> bytes:
    p, today = rows[0], now.date()
    documents = [document_dict(r, "d_", today) for r in rows if r.d_id is not None]
    sensitive = decrypt_sensitive(cipher, p) if access.sensitive else None
    return dumps(profile_dict(p, documents, sensitive=sensitive,
                              include_sensitive=access.sensitive, today=today,
                              provenance=imported_from(p)))
