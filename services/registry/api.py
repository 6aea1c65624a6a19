"""Thin routes of the registry. Static paths (``bulk``, ``statistics``) are registered before
``/{profile_id}`` so they never read as an id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response

from services.registry import usecases
from services.registry.clients import gather_sibling_data
from services.registry.crypto import SensitiveCipher
from services.registry.documents import DocumentType
from services.registry.presenters import dumps
from services.registry.schemas import (
    AccessDenialOut,
    AuditEntryOut,
    BulkIn,
    BulkOut,
    ConsentCheckOut,
    ConsentIn,
    ConsentOut,
    ConsentPurpose,
    DuplicatesOut,
    ExportOut,
    MergeIn,
    ProfileCreate,
    ProfileCreated,
    ProfileOut,
    ProfileSummary,
    ProfileUpdate,
    StatisticsOut,
)
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, IfMatch, etag
from shared.db import Database
from shared.deps import CursorsDep, DbDep, Idempotency, IsoDate, PeersDep
from shared.errors import ValidationFailed, problem_responses
from shared.http import respond
from shared.i18n import Text
from shared.identity import CurrentIdentity, Identity, current_identity
from shared.pagination import Cursor, Limit, Page
from shared.regions import RegionCode
from shared.text import OneLineText

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

ProfileId = Annotated[str, Path(max_length=64, description="Profile id (UUID)"), OneLineText]
ConsentId = Annotated[str, Path(max_length=64, description="Consent id (UUID)"), OneLineText]
OrgParam = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
NO_STORE = {"Cache-Control": "no-store"}
MERGED: dict[int | str, dict[str, Any]] = {308: {
    "description": "The profile was merged into another: `Location` and `merged_into` point "
                   "to it (a problem document with type /problems/profile-merged).",
    "headers": {"Location": {"schema": {"type": "string"},
                             "description": "/v1/profiles/{survivor id}"}},
    "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}}


def on_profile(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problems of an operation on one profile, with the merged-profile pointer."""
    return {**MERGED, **problem_responses(*statuses)}


async def get_cipher(request: Request) -> SensitiveCipher:
    cipher: SensitiveCipher = request.app.state.cipher
    return cipher


CipherDep = Annotated[SensitiveCipher, Depends(get_cipher)]


class Reader:
    """What the profile read needs — the caller, the database, the cipher — as ONE
    dependency: FastAPI spends about 4% of that read's CPU per dependency it solves (py-spy,
    make bench), and it is the route called most."""

    __slots__ = ("cipher", "db", "identity")

    def __init__(self, identity: Identity, db: Database, cipher: SensitiveCipher) -> None:
        self.identity = identity
        self.db = db
        self.cipher = cipher


async def get_reader(request: Request) -> Reader:
    state = request.app.state
    return Reader(await current_identity(request), state.db, state.cipher)


ReaderDep = Annotated[Reader, Depends(get_reader)]


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json",
                    headers={**NO_STORE, **(headers or {})})


async def optional_if_match(
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=512,
                                           description="Optional: checked when sent.")] = None,
) -> ExpectedVersion | None:
    # an empty header is no precondition (the operation does not require one: never a 428)
    return None if if_match is None or not if_match.strip() else ExpectedVersion.parse(if_match)


OptionalIfMatch = Annotated[ExpectedVersion | None, Depends(optional_if_match)]


# --- collection ----------------------------------------------------------------------------
@router.post(
    "", operation_id="profiles_create", status_code=201, response_model=ProfileCreated,
    responses=problem_responses(401, 403, 409, 422, 503),
    summary="Register a person",
    description="Registers a person for the caller's organisation. A document already "
                "registered is 409 (with `existing_profile_id` only when you may see that "
                "profile). Near matches (similar name, same birth date) come back as "
                "`duplicate_candidates`. Send `Idempotency-Key` to retry safely. A consent's "
                "`programme_id` must be a programme of the route catalogue (422 on "
                "`consents[i].programme_id` otherwise; 503 when the catalogue cannot be "
                "asked).",
)
async def create_profile(data: ProfileCreate, identity: CurrentIdentity, db: DbDep,
                         peers: PeersDep, idempotency: Idempotency, cipher: CipherDep
                         ) -> Response:
    return respond(await usecases.create_profile(db=db, peers=peers, identity=identity,
                                                 data=data,
                                                 idempotency=idempotency, cipher=cipher))


@router.get(
    "", operation_id="profiles_search",
    response_model=Page[ProfileSummary], responses=problem_responses(400, 401, 403, 422),
    summary="Search the profiles you may see",
    description="`q`: name search, accent-insensitive, typo-tolerant and in any surname "
                "order, best matches first (at most 500). `document`: exact number, "
                "normalised (`V-12.345.678` finds `V12345678`; a bare number also finds the "
                "Venezuelan cédula). Filters: `region`, `status`, `organisation_id`. Every "
                "profile returned is recorded in its audit log.",
)
async def search_profiles(
    identity: CurrentIdentity, db: DbDep, cursors: CursorsDep,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="Name, as typed"), OneLineText] = None,
    document: Annotated[str | None, Query(min_length=1, max_length=40), OneLineText] = None,
    document_type: DocumentType | None = None,
    region: Annotated[RegionCode | None, Query()] = None,
    status: Literal["active", "erased", "merged"] = "active",
    organisation_id: OrgParam = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Response:
    if q is not None and document is not None:
        raise ValidationFailed([("q", Text("Use q o document, no ambos",
                                           "Use q or document, not both"))])
    filters = usecases.SearchFilters(q=q, document=document,
                                     document_type=document_type.value if document_type
                                     else None, region=region, status=status,
                                     organisation_id=organisation_id)
    return _json(await usecases.search_profiles(db=db, identity=identity, cursors=cursors,
                                                filters=filters, limit=limit, cursor=cursor))


@router.post(
    "/bulk", operation_id="profiles_bulk_create",
    response_model=BulkOut, responses=problem_responses(400, 401, 403, 409, 422, 503),
    summary="Register up to 1,000 people at once (NGO batches)",
    description="Each item is judged on its own: `created`, `duplicate` (document already "
                "registered — `existing_profile_id` only when you may see it — or repeated "
                "in the batch) or `invalid` with field errors; an optional `phone` that is "
                "not a valid number is dropped and the person created with a `warnings` "
                "entry. The batch commits as one "
                "transaction; with `Idempotency-Key` a retried batch creates nothing new. A "
                "consent naming a programme the route catalogue does not know makes its item "
                "`invalid` (`consents[i].programme_id`); 503 when the catalogue cannot be "
                "asked.",
)
async def bulk_create(data: BulkIn, identity: CurrentIdentity, db: DbDep, peers: PeersDep,
                      idempotency: Idempotency, cipher: CipherDep) -> Response:
    return respond(await usecases.bulk_create(db=db, peers=peers, identity=identity,
                                              items=data.items,
                                              idempotency=idempotency, cipher=cipher))


@router.get(
    "/statistics", operation_id="profiles_statistics",
    response_model=StatisticsOut, responses=problem_responses(401, 403, 422),
    summary="Non-identifying counts for reporting",
    description="Counts by sex, age band (0-17, 18-24, 25-34, 35-44, 45-59, 60+), "
                "nationality, population type, region and status; no ids, no cross-tabs. "
                "Cancelled people still count; people who opposed statistics do not. "
                "Coordinators see their organisation; admins (and services) everything, "
                "optionally by `organisation_id`. `registered_from`/`registered_to` bound "
                "the registration date.",
)
async def statistics(
    identity: CurrentIdentity, db: DbDep,
    region: Annotated[RegionCode | None, Query()] = None,
    country: Literal["PE", "EC"] | None = None,
    organisation_id: OrgParam = None,
    registered_from: IsoDate | None = None, registered_to: IsoDate | None = None,
) -> StatisticsOut:
    out = await usecases.statistics(db=db, identity=identity, region=region, country=country,
                                    organisation_id=organisation_id,
                                    registered_from=registered_from,
                                    registered_to=registered_to)
    return StatisticsOut.model_validate(out)


# --- one profile ---------------------------------------------------------------------------
@router.get(
    "/{profile_id}", operation_id="profiles_read", response_model=ProfileOut,
    responses=on_profile(401, 403, 404, 410, 503),
    summary="Read a profile (audited)",
)
async def get_profile(profile_id: ProfileId, reader: ReaderDep) -> Response:
    """Reads a person's profile (every read is written to the profile's audit trail). Its `ETag`
    is the version for If-Match. A merged profile answers 410 with the profile it was merged
    into."""
    body, version = await usecases.read_profile(db=reader.db, identity=reader.identity,
                                                cipher=reader.cipher, profile_id=profile_id)
    return _json(body, headers={"ETag": etag(version)})


@router.patch(
    "/{profile_id}", operation_id="profiles_update", response_model=ProfileOut,
    responses=on_profile(401, 403, 404, 409, 410, 412, 422, 428),
    summary="Rectify a profile (ARCO; If-Match required)",
)
async def update_profile(profile_id: ProfileId, data: ProfileUpdate, identity: CurrentIdentity,
                         db: DbDep, expected: IfMatch, cipher: CipherDep) -> Response:
    """Rectifies a profile (ARCO rectification): only the fields sent change. Requires If-Match
    with the version read; 412 if someone changed it since."""
    body, version = await usecases.update_profile(db=db, identity=identity,
                                                  profile_id=profile_id, data=data,
                                                  expected=expected, cipher=cipher)
    return _json(body, headers={"ETag": etag(version)})


@router.delete(
    "/{profile_id}", operation_id="profiles_erase", status_code=204, response_class=Response,
    responses=on_profile(401, 403, 404, 410, 412, 428),
    summary="Cancel a person's data (ARCO; If-Match required)",
    description="Pseudonymises: names, birth date, contact, documents' numbers and sensitive "
                "data are removed; age band, sex, nationality, population type and region "
                "stay for statistics. Emits `profile.erased` so the other services do the "
                "same. Afterwards the profile answers 410 to its organisation, 404 to others.",
)
async def erase_profile(profile_id: ProfileId, identity: CurrentIdentity, db: DbDep,
                        expected: IfMatch) -> Response:
    await usecases.erase_profile(db=db, identity=identity, profile_id=profile_id,
                                 expected=expected)
    return Response(status_code=204, headers=NO_STORE)


@router.get(
    "/{profile_id}/duplicates", operation_id="profiles_duplicates", response_model=DuplicatesOut,
    responses=on_profile(401, 403, 404, 410),
    summary="Near matches of this person (name, birth date, nationality)",
)
async def duplicates(profile_id: ProfileId, identity: CurrentIdentity, db: DbDep) -> Response:
    """Lists the profiles the caller may see that are likely the same person (similar name, birth
    date, nationality), to merge them."""
    return _json(await usecases.find_duplicates(db=db, identity=identity,
                                                profile_id=profile_id))


@router.post(
    "/{profile_id}/merge", operation_id="profiles_merge", response_model=ProfileOut,
    responses=on_profile(401, 403, 404, 409, 410, 412, 422, 428),
    summary="Merge a duplicate into this profile (If-Match of this profile)",
    description="Keeps this profile, moves the duplicate's documents, consents and history "
                "to it and fills its empty fields; the duplicate then answers 308 with a "
                "pointer here. Emits `profile.merged`.",
)
async def merge(profile_id: ProfileId, data: MergeIn, identity: CurrentIdentity, db: DbDep,
                expected: IfMatch, cipher: CipherDep) -> Response:
    body, version = await usecases.merge_profiles(db=db, identity=identity,
                                                  survivor_id=profile_id, data=data,
                                                  expected=expected, cipher=cipher)
    return _json(body, headers={"ETag": etag(version)})


@router.get(
    "/{profile_id}/export", operation_id="profiles_export", response_model=ExportOut,
    responses=on_profile(401, 403, 404, 410, 502, 503),
    summary="ARCO access: everything held on the person, machine-readable",
    description="The registry's data (profile, documents, consents, who accessed it, merged "
                "ids) plus what credentials and referrals hold, asked through their APIs. A "
                "service without that list yet is `{\"status\": \"unavailable\"}`; a service "
                "that is down fails the export (503), never a silently partial answer. "
                "Sensitive data only with `sensitive:read`, never for partners' machine "
                "clients.",
)
async def export(profile_id: ProfileId, identity: CurrentIdentity, db: DbDep,
                 peers: PeersDep, cipher: CipherDep) -> Response:
    ids = await usecases.export_ids(db=db, identity=identity, profile_id=profile_id)
    siblings = await gather_sibling_data(peers, identity, ids)
    reg = await usecases.export_registry(db=db, identity=identity, cipher=cipher,
                                         profile_id=profile_id)
    body: dict[str, Any] = {
        "format": "ruta-arco-export/1", "generated_at": utcnow(),
        "profile_id": reg.profile_id, "sensitive_included": reg.sensitive_included,
        "registry": reg.body, **siblings,
    }
    return _json(dumps(body), headers={
        "Content-Disposition": f'attachment; filename="arco-{reg.profile_id}.json"'})


@router.get(
    "/{profile_id}/audit", operation_id="profiles_audit", response_model=Page[AuditEntryOut],
    responses=on_profile(400, 401, 403, 404, 422),
    summary="Who read or changed this profile (coordinators of its organisation)",
    description="Append-only, newest first, including profiles merged into this one. A "
                "read lists the groups it returned (identity, location, contact, "
                "employability, documents, consents, sensitive); a write lists the fields it "
                "changed. Reading the audit log is itself audited.",
)
async def audit(profile_id: ProfileId, identity: CurrentIdentity, db: DbDep,
                cursors: CursorsDep, limit: Limit = 50, cursor: Cursor = None) -> Response:
    return _json(await usecases.read_audit(db=db, identity=identity, cursors=cursors,
                                           profile_id=profile_id, limit=limit, cursor=cursor))


@router.get(
    "/{profile_id}/access-denials", operation_id="profiles_access_denials",
    response_model=Page[AccessDenialOut], responses=on_profile(400, 401, 403, 404, 422),
    summary="Who was refused this person as outside their scope (coordinators, admins)",
    description="The security audit of probes: each caller answered 404 on one of this "
                "person's routes, by organisation, client, role, method and route template, "
                "one entry per day with its first and last time and the number of attempts. "
                "Never what the caller sent. Latest first, including profiles merged into "
                "this one. Coordinators of the owning organisation and admins; reading it "
                "is audited.",
)
async def access_denials(profile_id: ProfileId, identity: CurrentIdentity, db: DbDep,
                         cursors: CursorsDep, limit: Limit = 50, cursor: Cursor = None
                         ) -> Response:
    return _json(await usecases.read_denials(db=db, identity=identity, cursors=cursors,
                                             profile_id=profile_id, limit=limit,
                                             cursor=cursor))


# --- consents ------------------------------------------------------------------------------
@router.get(
    "/{profile_id}/consent-check", operation_id="consents_check", response_model=ConsentCheckOut,
    responses=on_profile(401, 403, 404, 422),
    summary="May this organisation receive the person's data for this purpose?",
    description="For other services before they share: `granted` with the deciding "
                "`consent_id`. The most specific decision wins (naming the recipient over "
                "general ones), and the latest among them: a later refusal or withdrawal "
                "overrides a grant; a grant past `valid_until` has expired. `referral` needs "
                "`recipient` (or `programme`).",
)
async def consent_check(
    profile_id: ProfileId, identity: CurrentIdentity, db: DbDep,
    purpose: ConsentPurpose,
    recipient: OrgParam = None,
    programme: OrgParam = None,
) -> ConsentCheckOut:
    if purpose is ConsentPurpose.REFERRAL and recipient is None and programme is None:
        raise ValidationFailed([("recipient", Text(
            "Indique la organización receptora", "Name the receiving organisation"))])
    out = await usecases.check_consent(db=db, identity=identity, profile_id=profile_id,
                                       purpose=purpose.value, recipient=recipient,
                                       programme=programme)
    return ConsentCheckOut.model_validate(out)


@router.get(
    "/{profile_id}/consents", operation_id="consents_list", response_model=Page[ConsentOut],
    responses=on_profile(401, 403, 404, 410),
    summary="The person's consent decisions",
)
async def list_consents(profile_id: ProfileId, identity: CurrentIdentity, db: DbDep
                        ) -> Response:
    """Lists the person's consent decisions (granted, refused, withdrawn) by purpose and
    recipient, newest first."""
    return _json(await usecases.list_consents(db=db, identity=identity, profile_id=profile_id))


@router.post(
    "/{profile_id}/consents", operation_id="consents_record",
    status_code=201, response_model=ConsentOut,
    responses=on_profile(401, 403, 404, 409, 410, 422, 503),
    summary="Record a consent decision (grant or refusal)",
    description="A refused or withdrawn `statistics` or `contact` consent is the person's "
                "ARCO opposition: they leave the statistics, or must not be contacted. A "
                "`referral` grant shares the profile with the named organisation. A "
                "`programme_id` must be a programme of the route catalogue (422 on "
                "`programme_id` otherwise; 503 when the catalogue cannot be asked).",
)
async def record_consent(profile_id: ProfileId, identity: CurrentIdentity, db: DbDep,
                         peers: PeersDep, idempotency: Idempotency,
                         data: Annotated[ConsentIn, Body()]) -> Response:
    return respond(await usecases.record_consent(db=db, peers=peers, identity=identity,
                                                 profile_id=profile_id, data=data,
                                                 idempotency=idempotency))


@router.post(
    "/{profile_id}/consents/{consent_id}/withdraw", operation_id="consents_withdraw",
    response_model=ConsentOut,
    responses=on_profile(401, 403, 404, 409, 410, 412),
    summary="Withdraw a granted consent",
    description="Always honoured (If-Match optional, checked when sent). Withdrawing the "
                "consent that covers sensitive data erases that data. Emits "
                "`consent.withdrawn`.",
)
async def withdraw_consent(profile_id: ProfileId, consent_id: ConsentId,
                           identity: CurrentIdentity, db: DbDep, idempotency: Idempotency,
                           expected: Annotated[ExpectedVersion | None,
                                               Depends(optional_if_match)] = None
                           ) -> Response:
    return respond(await usecases.withdraw_consent(
        db=db, identity=identity, profile_id=profile_id, consent_id=consent_id,
        expected=expected, idempotency=idempotency))

