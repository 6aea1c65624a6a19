"""What a use case writes beside its change: audit rows, outbox events, and the profile as it
answers it (sensitive data decrypted only when the caller may see it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.registry.crypto import SensitiveCipher
from services.registry.presenters import document_dict, profile_dict
from services.registry.repository import ProfileRepository
from shared.identity import Identity
from shared.outbox import Event
from shared.work_authorisation import rules


def audit_row(identity: Identity, profile_id: str, action: str, fields: Sequence[str],
              now: datetime) -> dict[str, Any]:
    return {"profile_id": profile_id, "at": now, "action": action,
            "actor_subject": identity.subject, "actor_role": identity.role.value,
            "actor_organisation_id": identity.organisation_id, "fields": list(fields),
            "request_id": identity.request_id}


def profile_event(kind: str, p: Any, data: dict[str, Any] | None = None) -> Event:
    return Event(type=kind, subject_type="profile", subject_id=p.id,
                 subject_version=p.version, organisation_id=p.organisation_id,
                 regions=[p.region], data=data or {})


def consent_event(kind: str, p: Any, c: Any) -> Event:
    g = c.get if isinstance(c, dict) else (lambda k: getattr(c, k))
    return profile_event(kind, p, {"consent_id": g("id"), "purpose": g("purpose"),
                                   "recipient_organisation_id": g("recipient_organisation_id"),
                                   "programme_id": g("programme_id")})


def recorded_event(kind: str, p: Any, doc: Any) -> Event:
    """``document.recorded``: a document added to an existing profile (or its expiry date
    changed: a renewal), with whether the rules file says its type authorises work in the
    person's country (the caseworker's own flag stays evidence, not the rule)."""
    return Event(type=kind, subject_type="document", subject_id=doc.id,
                 organisation_id=p.organisation_id, regions=[p.region],
                 data={"profile_id": p.id, "document_type": doc.doc_type,
                       "expiry_date": doc.expiry_date.isoformat() if doc.expiry_date else None,
                       "authorises_work": rules().authorises_work(doc.doc_type, p.country)})


def decrypt_sensitive(cipher: SensitiveCipher, p: Any) -> dict[str, Any] | None:
    if p.sensitive_ciphertext is None or p.sensitive_key_id is None:
        return None
    return cipher.decrypt(p.id, p.sensitive_key_id, p.sensitive_ciphertext)


async def present_profile(repo: ProfileRepository, cipher: SensitiveCipher, p: Any, *,
                          include_sensitive: bool) -> dict[str, Any]:
    """The profile with its documents as stored now (after this use case's changes)."""
    documents = [document_dict(d) for d in await repo.documents_of([p.id])]
    return profile_dict(p, documents,
                        sensitive=decrypt_sensitive(cipher, p) if include_sensitive else None,
                        include_sensitive=include_sensitive,
                        provenance=await repo.imported_from(p.id))
