"""How the registry answers: profiles, summaries, documents, consents and audit entries as
response dictionaries (from ORM objects, Core rows or driver records alike), and the JSON
bytes they are sent as."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from services.registry import documents as docs
from services.registry.consent_rules import effective_status
from services.registry.schemas.common import AGE_BANDS
from shared.clock import as_utc

JSON_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS

# Audit "fields" of a read are these groups (a write lists the exact fields it changed).
GROUPS: dict[str, tuple[str, ...]] = {
    "identity": ("given_names", "first_surname", "second_surname", "birth_date", "sex",
                 "gender_identity", "nationality", "population_type"),
    "location": ("country", "region", "district"),
    "contact": ("phone", "email"),
    "employability": ("languages", "education_level", "education_field",
                      "occupation_current", "occupation_training", "occupation_desired",
                      "years_experience", "skills", "interest_employment",
                      "interest_self_employment", "experience"),
}
READ_GROUPS = ["identity", "location", "contact", "employability", "documents"]
SUMMARY_GROUPS = ["identity", "location"]
SCALAR_FIELDS = tuple(f for g in GROUPS.values() for f in g if f != "country")
PERSONAL_FIELDS = tuple(f for f in SCALAR_FIELDS
                        if f not in ("sex", "nationality", "population_type", "region"))
PUBLIC_COLUMNS = ("id", "organisation_id", "status", "version", *SCALAR_FIELDS[:8],
                  "country", "region", "district", "phone", "email",
                  *GROUPS["employability"], "opt_out_statistics", "opt_out_contact",
                  "created_at", "updated_at")


class RowView:
    """Attribute access over a row dictionary (consent rules work on rows and objects)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=JSON_OPTS)


def profile_location(profile_id: str) -> str:
    return f"/v1/profiles/{profile_id}"


def age_band(birth: date | None, today: date | None = None) -> str | None:
    if birth is None:
        return None
    today = today or date.today()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    for upper, label in zip((18, 25, 35, 45, 60), AGE_BANDS, strict=False):
        if age < upper:
            return label
    return "60+"


def document_dict(d: Any, prefix: str = "", today: date | None = None) -> dict[str, Any]:
    g = (lambda n: getattr(d, prefix + n)) if prefix else (lambda n: getattr(d, n))
    doc_type = docs.DocumentType(g("type") if prefix else d.doc_type)
    expiry = g("expiry") if prefix else d.expiry_date
    today = today or date.today()
    return {
        "id": g("id"), "type": doc_type.value, "number": g("number"),
        "issuing_country": g("country") if prefix else d.issuing_country,
        "expiry_date": expiry, "verification": g("verification"),
        "authorises_work": g("authorises_work"),
        "expired": expiry is not None and expiry < today,
        "accepted_for_identification": docs.accepted_for_identification(doc_type, expiry,
                                                                        today),
        "created_at": as_utc(g("created_at")),
    }


def imported_from(row: Any) -> dict[str, str] | None:
    """Provenance from a read row's ``imported_deployment``/``imported_profile_id`` (both
    read paths select them): null for a person never imported."""
    deployment = getattr(row, "imported_deployment", None)
    if deployment is None:
        return None
    return {"deployment": deployment, "profile_id": row.imported_profile_id or ""}


def profile_dict(p: Any, documents: list[dict[str, Any]], *,
                 sensitive: dict[str, Any] | None = None, include_sensitive: bool = False,
                 today: date | None = None,
                 provenance: dict[str, str] | None = None) -> dict[str, Any]:
    # a driver row is a dict (hot_reads.Record): read by key, not through its __getattr__
    out = ({k: p[k] for k in PUBLIC_COLUMNS} if isinstance(p, dict)
           else {k: getattr(p, k) for k in PUBLIC_COLUMNS})
    out["created_at"] = as_utc(out["created_at"])
    out["updated_at"] = as_utc(out["updated_at"])
    out["age_band"] = age_band(p.birth_date, today) or p.erased_age_band
    out["documents"] = documents
    out["imported_from"] = provenance
    if include_sensitive:
        out["sensitive"] = sensitive
    return out


def summary_dict(r: Any, score: float | None = None) -> dict[str, Any]:
    return {"id": r.id, "organisation_id": r.organisation_id, "status": r.status,
            "version": r.version, "given_names": r.given_names,
            "first_surname": r.first_surname, "second_surname": r.second_surname,
            "birth_date": r.birth_date, "sex": r.sex, "nationality": r.nationality,
            "population_type": r.population_type, "region": r.region, "score": score}


def consent_dict(c: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": c.id, "profile_id": c.profile_id, "purpose": c.purpose,
        "status": effective_status(c, now),
        "recipient_organisation_id": c.recipient_organisation_id,
        "recipient_deployment_id": getattr(c, "recipient_deployment_id", None),
        "programme_id": c.programme_id, "sensitive_data": bool(c.sensitive_data),
        "evidence": c.evidence, "evidence_reference": c.evidence_reference,
        "witnessed_by": c.witnessed_by,
        "valid_until": as_utc(c.valid_until) if c.valid_until else None,
        "recorded_by": c.recorded_by, "recorded_by_organisation_id":
        c.recorded_by_organisation_id, "recorded_at": as_utc(c.recorded_at),
        "withdrawn_at": as_utc(c.withdrawn_at) if c.withdrawn_at else None,
        "withdrawn_by": c.withdrawn_by, "version": c.version,
    }


def audit_dict(r: Any) -> dict[str, Any]:
    return {"id": r.id, "profile_id": r.profile_id, "at": as_utc(r.at), "action": r.action,
            "actor_subject": r.actor_subject, "actor_role": r.actor_role,
            "actor_organisation_id": r.actor_organisation_id, "fields": list(r.fields or []),
            "request_id": r.request_id}


def denial_dict(r: Any) -> dict[str, Any]:
    return {"id": r.id, "profile_id": r.profile_id, "organisation_id": r.prober_organisation_id,
            "client_id": r.prober_subject, "role": r.prober_role, "method": r.method,
            "route": r.route, "day": r.day, "first_at": as_utc(r.first_at),
            "last_at": as_utc(r.last_at), "attempts": r.attempts}
