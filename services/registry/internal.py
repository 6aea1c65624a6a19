"""Non-identifying attributes of people, for the reporting side of other services.

``GET /internal/profiles/{id}/attributes`` and ``GET /internal/profiles/attributes`` (paged by
id) answer only the services' ``system`` identity, and only what statistics need: the
organisation, country, region, sex, birth *year* (never the date), the age band frozen at
cancellation, nationality, population type, registration time, the statistics opposition
and the status. Never names, documents, contact or sensitive data. The gateway does not
route ``/internal`` paths.

``GET /internal/profiles/{id}/matching`` feeds the referrals service's candidates projection
(job matching, issue 20): the employability facts a vacancy's requirements are checked against,
the work-authorising documents' types and expiry dates (never their numbers), the
organisations the person consented to be matched with (purpose ``job_matching``) and the
initials shown to them — nothing else about who the person is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from services.registry.models import Consent, IdentityDocument, Profile
from services.registry.schemas.consents import ConsentPurpose, ConsentStatus
from shared.clock import as_utc
from shared.deps import DbDep
from shared.errors import Forbidden, NotFound
from shared.identity import CurrentIdentity, Identity, Role

internal_router = APIRouter(prefix="/internal/profiles", include_in_schema=False)

_COLUMNS = (Profile.id, Profile.organisation_id, Profile.country, Profile.region, Profile.sex,
            Profile.birth_date, Profile.erased_age_band, Profile.nationality,
            Profile.population_type, Profile.created_at, Profile.opt_out_statistics,
            Profile.status, Profile.merged_into)

IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,36}$")]


def _system_only(identity: Identity) -> None:
    if identity.role is not Role.SYSTEM:
        raise Forbidden()


def attributes(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "organisation_id": row.organisation_id, "country": row.country,
        "region": row.region, "sex": row.sex,
        "birth_year": row.birth_date.year if row.birth_date is not None else None,
        "age_band": row.erased_age_band if row.birth_date is None else None,
        "nationality": row.nationality, "population_type": row.population_type,
        "registered_at": as_utc(row.created_at).isoformat(),
        "statistics_opt_out": bool(row.opt_out_statistics), "status": row.status,
        "merged_into": row.merged_into,
    }


@internal_router.get("/attributes")
async def page_attributes(identity: CurrentIdentity, db: DbDep,
                          after: Annotated[str, Query(max_length=36)] = "",
                          limit: Annotated[int, Query(ge=1, le=5000)] = 1000
                          ) -> dict[str, Any]:
    """Everyone (ordered by id) after ``after``: how a projection is rebuilt."""
    _system_only(identity)
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            select(*_COLUMNS).where(Profile.id > after).order_by(Profile.id).limit(limit)
        )).all()
    items = [attributes(r) for r in rows]
    return {"items": items, "next_after": items[-1]["id"] if len(items) == limit else None}


@internal_router.get("/{profile_id}/attributes")
async def one_attributes(profile_id: IdPath, identity: CurrentIdentity, db: DbDep
                         ) -> dict[str, Any]:
    _system_only(identity)
    async with db.uow() as uow:
        row = (await uow.session.execute(
            select(*_COLUMNS).where(Profile.id == profile_id))).first()
    if row is None:
        raise NotFound()
    return attributes(row)


def initials(given_names: str | None, first_surname: str | None) -> str | None:
    """"María José", "Pérez" → "M. P.": what a vacancy's organisation sees of a name."""
    letters = [n.strip()[0].upper() for n in (given_names, first_surname) if n and n.strip()]
    return " ".join(f"{x}." for x in letters) or None


@internal_router.get("/{profile_id}/matching")
async def matching_facts(profile_id: IdPath, identity: CurrentIdentity, db: DbDep
                         ) -> dict[str, Any]:
    """One person's facts for job matching (see the module's docstring)."""
    _system_only(identity)
    async with db.uow() as uow:
        p = await uow.session.get(Profile, profile_id)
        if p is None:
            raise NotFound()
        documents = (await uow.session.scalars(select(IdentityDocument).where(
            IdentityDocument.profile_id == profile_id))).all()
        consents = (await uow.session.scalars(select(Consent).where(
            Consent.profile_id == profile_id,
            Consent.purpose == ConsentPurpose.JOB_MATCHING.value,
            Consent.status == ConsentStatus.GRANTED.value))).all()
    return {
        "id": p.id, "status": p.status, "merged_into": p.merged_into, "country": p.country,
        "region": p.region, "initials": initials(p.given_names, p.first_surname),
        "occupations": [o for o in (p.occupation_current, p.occupation_training,
                                    p.occupation_desired) if o],
        "experience": p.experience or [], "years_experience": p.years_experience,
        "languages": p.languages,
        "documents": [{"type": d.doc_type, "issuing_country": d.issuing_country,
                       "expiry_date": d.expiry_date.isoformat() if d.expiry_date else None,
                       "authorises_work": d.authorises_work} for d in documents],
        "job_matching": [{"organisation_id": c.recipient_organisation_id,
                          "valid_until": as_utc(c.valid_until).isoformat()
                          if c.valid_until else None}
                         for c in consents if c.recipient_organisation_id],
    }
