"""The registry's public payloads, by aggregate. Inputs forbid unknown fields (422): read-only
fields such as ``organisation_id`` or ``status`` can never be mass-assigned.

The names stay importable from ``services.registry.schemas``; new code imports from the
module of its aggregate."""

from services.registry.schemas.bulk import BulkIn, BulkItemResult, BulkOut, FieldError
from services.registry.schemas.common import (
    AGE_BANDS,
    EC_PROVINCE,
    UBIGEO_PREFIX,
    Alpha3,
    DisabilityType,
    GenderIdentity,
    GivenNames,
    IscoCode,
    Name,
    OrgId,
    PopulationType,
    ProtectionNeed,
    Sex,
    ShortText,
    check_birth_date,
    check_district,
    normalise_email,
    normalise_phone,
)
from services.registry.schemas.consents import (
    WRITTEN_EVIDENCE,
    ConsentCheckOut,
    ConsentIn,
    ConsentOut,
    ConsentPurpose,
    ConsentStatus,
    Evidence,
)
from services.registry.schemas.documents import DocumentIn, DocumentOut
from services.registry.schemas.oversight import (
    AccessDenialOut,
    AuditEntryOut,
    ExportOut,
    ExportSection,
    StatisticsOut,
)
from services.registry.schemas.profiles import (
    DuplicateCandidate,
    DuplicatesOut,
    MergeIn,
    ProfileCreate,
    ProfileCreated,
    ProfileOut,
    ProfileSummary,
    ProfileUpdate,
    SensitiveData,
)

__all__ = [
    "AGE_BANDS", "EC_PROVINCE", "UBIGEO_PREFIX", "WRITTEN_EVIDENCE", "AccessDenialOut",
    "Alpha3", "AuditEntryOut",
    "BulkIn", "BulkItemResult", "BulkOut", "ConsentCheckOut", "ConsentIn", "ConsentOut",
    "ConsentPurpose", "ConsentStatus", "DisabilityType", "DocumentIn", "DocumentOut",
    "DuplicateCandidate", "DuplicatesOut", "Evidence", "ExportOut", "ExportSection",
    "FieldError", "GenderIdentity", "GivenNames", "IscoCode", "MergeIn", "Name", "OrgId",
    "PopulationType", "ProfileCreate", "ProfileCreated", "ProfileOut", "ProfileSummary",
    "ProfileUpdate", "ProtectionNeed", "SensitiveData", "Sex", "ShortText", "StatisticsOut",
    "check_birth_date", "check_district", "normalise_email", "normalise_phone",
]
