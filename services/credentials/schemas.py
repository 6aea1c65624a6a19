"""What callers send to the credentials API, with the rules a request must meet (bilingual
messages, no control characters in free text, no future dates); the kinds and enums the
answers share (:mod:`services.credentials.responses`)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.credentials.classification import CEFR_LEVELS, is_isced_f, is_isco_08
from services.credentials.lifecycle import ACTION_RULES, Action
from services.credentials.vc import MAX_VC_CHARS
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.refdata import CountryAlpha2
from shared.text import MultiLineText, OneLineText


class CredentialKind(StrEnum):
    ACADEMIC_DEGREE = "academic_degree"
    PROFESSIONAL_LICENCE = "professional_licence"
    SKILLS_CERTIFICATION = "skills_certification"
    TRAINING_COMPLETION = "training_completion"
    LANGUAGE = "language"


class TrainingModule(StrEnum):
    """Emprende Segur@ modules."""

    BUSINESS_MANAGEMENT = "business_management"
    FINANCIAL_EDUCATION = "financial_education"
    SST = "sst"


class EvidenceType(StrEnum):
    DIPLOMA = "diploma"
    TRANSCRIPT = "transcript"
    APOSTILLE = "apostille"
    LEGALISATION = "legalisation"
    RESOLUTION = "resolution"
    CERTIFICATE = "certificate"
    LICENCE = "licence"
    OTHER = "other"


Str = StringConstraints
# Free text never carries control characters (PostgreSQL refuses NUL; logs and CSV exports
# must not be forged with line breaks); a reason may span lines (shared.text).


def _text(min_length: int, max_length: int) -> StringConstraints:
    return Str(strip_whitespace=True, min_length=min_length, max_length=max_length)


Title = Annotated[str, _text(2, 300), OneLineText]
ShortText = Annotated[str, _text(1, 300), OneLineText]
Code60 = Annotated[str, _text(1, 60), OneLineText]
Text100 = Annotated[str, _text(1, 100), OneLineText]
Text200 = Annotated[str, _text(1, 200), OneLineText]
ProfileId = Annotated[str, Str(pattern=r"^[A-Za-z0-9-]{1,36}$")]
DocumentId = Annotated[str, Str(pattern=r"^[A-Za-z0-9._:-]{1,100}$")]
Reason = Annotated[str, _text(3, 1000), MultiLineText]
AuthorityCode = Annotated[str, Str(pattern=r"^[A-Z][A-Z0-9_-]{1,39}$")]

_FUTURE = Text("La fecha no puede ser futura", "The date cannot be in the future")


def _not_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise InvalidValue(_FUTURE)
    return value


class IssuerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(description="Institution that issued the credential, as written.")
    country: CountryAlpha2 | None = Field(None, description="ISO 3166-1 alpha-2, e.g. VE")
    identifier: Text200 | None = Field(
        None, description="The institution's code or URL (e.g. a university code).")


class EvidenceRef(BaseModel):
    """A reference to a document held elsewhere (never the file itself)."""

    model_config = ConfigDict(extra="forbid")

    document_id: DocumentId
    type: EvidenceType = EvidenceType.OTHER


class SkillsCertificationIn(BaseModel):
    """As the MTPE (Peru) or SETEC (Ecuador) certifies labour competencies."""

    model_config = ConfigDict(extra="forbid")

    competency_standard_code: Code60
    competency_standard_name: ShortText
    certifying_body: ShortText | None = None
    assessment_date: date | None = None

    _assessed = field_validator("assessment_date")(_not_future)


class TrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    module: TrainingModule = Field(description="Emprende Segur@ module completed.")
    hours: int | None = Field(None, ge=1, le=2000)


class CredentialCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "kind": "academic_degree",
             "title": "Médico Cirujano", "field_isced": "0912", "occupation_isco": "2211",
             "level": "Título profesional (ISCED 7)",
             "issuer": {"name": "Universidad Central de Venezuela", "country": "VE",
                        "identifier": "UCV"},
             "issued_on": "2015-07-20",
             "evidence": [{"document_id": "doc-7f3a", "type": "diploma"}]},
            {"profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
             "kind": "skills_certification", "title": "Certificado de competencias laborales",
             "skills_certification": {"competency_standard_code": "NCL-GAS-001",
                                      "competency_standard_name": "Preparación de alimentos",
                                      "certifying_body": "MTPE",
                                      "assessment_date": "2025-03-10"}},
            {"profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
             "kind": "training_completion", "title": "Emprende Segur@ — SST",
             "training": {"module": "sst", "hours": 12}},
        ]},
    )

    profile_id: ProfileId
    kind: CredentialKind
    title: Title = Field(description="The exact title as written on the document: "
                                     "'Medicina Integral Comunitaria' is not 'Médico Cirujano'.")
    field_isced: Code60 | None = Field(None, description="ISCED-F 2013 field code (2-4 "
                                                        "digits).")
    occupation_isco: Code60 | None = Field(None, description="ISCO-08 occupation code (1-4 "
                                                          "digits).")
    level: Code60 | None = Field(
        None, description="Level: e.g. ISCED level, competency level, CEFR for languages "
                          "(A1-C2).")
    language: Annotated[str, Str(pattern=r"^[a-z]{2,3}$")] | None = Field(
        None, validate_default=True,
        description="ISO 639 code; required for kind=language.")
    issuer: IssuerIn | None = Field(
        None, description="Who issued it. Optional when the person does not know, but a "
                          "credential is verified with its issuer, so record it as soon as "
                          "known.")
    issued_on: date | None = None
    expires_on: date | None = None
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=20)
    skills_certification: SkillsCertificationIn | None = Field(
        None, validate_default=True,
        description="Required for (and only for) kind=skills_certification.")
    training: TrainingIn | None = Field(
        None, description="Only for kind=training_completion.")

    _issued = field_validator("issued_on")(_not_future)

    @field_validator("field_isced")
    @classmethod
    def _isced(cls, v: str | None) -> str | None:
        if v is not None and not is_isced_f(v):
            raise InvalidValue(Text("Código ISCED-F 2013 no válido (p. ej. 0912)",
                                    "Invalid ISCED-F 2013 code (e.g. 0912)"))
        return v

    @field_validator("occupation_isco")
    @classmethod
    def _isco(cls, v: str | None) -> str | None:
        if v is not None and not is_isco_08(v):
            raise InvalidValue(Text("Código ISCO-08 no válido (p. ej. 2211)",
                                    "Invalid ISCO-08 code (e.g. 2211)"))
        return v

    @field_validator("level")
    @classmethod
    def _level(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") is CredentialKind.LANGUAGE and v is not None \
                and v not in CEFR_LEVELS:
            raise InvalidValue(Text("Para idiomas use un nivel MCER (A1-C2)",
                                    "For languages use a CEFR level (A1-C2)"))
        return v

    @field_validator("language")
    @classmethod
    def _language(cls, v: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is not None and (v is None) == (kind is CredentialKind.LANGUAGE):
            raise InvalidValue(Text("Obligatorio solo para kind=language",
                                    "Required for, and only for, kind=language"))
        return v

    @field_validator("expires_on")
    @classmethod
    def _expires(cls, v: date | None, info: ValidationInfo) -> date | None:
        issued = info.data.get("issued_on")
        if v is not None and issued is not None and v < issued:
            raise InvalidValue(Text("No puede ser anterior a issued_on",
                                    "Cannot be before issued_on"))
        return v

    @field_validator("skills_certification")
    @classmethod
    def _skills(cls, v: SkillsCertificationIn | None, info: ValidationInfo
                ) -> SkillsCertificationIn | None:
        kind = info.data.get("kind")
        if kind is not None and (v is None) == (kind is CredentialKind.SKILLS_CERTIFICATION):
            raise InvalidValue(Text("Obligatorio solo para kind=skills_certification",
                                    "Required for, and only for, kind=skills_certification"))
        return v

    @field_validator("training")
    @classmethod
    def _training(cls, v: TrainingIn | None, info: ValidationInfo) -> TrainingIn | None:
        kind = info.data.get("kind")
        if v is not None and kind is not None and kind is not CredentialKind.TRAINING_COMPLETION:
            raise InvalidValue(Text("Solo para kind=training_completion",
                                    "Only for kind=training_completion"))
        return v


class RecognitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: AuthorityCode = Field(description="Recognising authority, e.g. SUNEDU, SENESCYT.")
    resolution_number: Text100
    resolution_date: date

    _dated = field_validator("resolution_date")(_not_future)


class TransitionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"action": "see_document", "reason": "Diploma original revisado en la oficina"},
            {"action": "recognise", "reason": "Resolución de SUNEDU presentada",
             "recognition": {"body": "SUNEDU", "resolution_number": "012345-2025-SUNEDU/DIGRAT",
                             "resolution_date": "2025-05-14"}},
            {"action": "revoke", "reason": "La universidad anuló el título"},
        ]},
    )

    action: Action
    reason: Reason | None = Field(None, validate_default=True,
                                  description="Why. Required for reject, suspend, reinstate "
                                              "and revoke.")
    recognition: RecognitionIn | None = Field(
        None, validate_default=True, description="Required for (and only for) recognise.")
    legalisation: Literal["apostille", "consular_legalisation"] | None = Field(
        None, validate_default=True, description="Only for apostille: how the document was "
                                                 "legalised (default apostille).")

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str | None, info: ValidationInfo) -> str | None:
        action = info.data.get("action")
        if v is None and action is not None and ACTION_RULES[action].needs_reason:
            raise InvalidValue(Text("Indique el motivo de esta acción",
                                    "Give the reason for this action"))
        return v

    @field_validator("recognition")
    @classmethod
    def _recognition(cls, v: RecognitionIn | None, info: ValidationInfo
                     ) -> RecognitionIn | None:
        action = info.data.get("action")
        if action is None:
            return v
        if (v is None) == ACTION_RULES[action].needs_recognition:
            raise InvalidValue(Text(
                "Obligatorio solo para recognise (organismo, número y fecha de resolución)",
                "Required for, and only for, recognise (body, resolution number and date)"))
        return v

    @field_validator("legalisation")
    @classmethod
    def _legalisation(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("action") not in (None, Action.APOSTILLE):
            raise InvalidValue(Text("Solo para la acción apostille",
                                    "Only for the apostille action"))
        return v


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "credential": "eyJhbGciOiJFUzI1NiIsImN0eSI6InZjIiwia2lkIjoi…"}})

    credential: Annotated[str, Str(min_length=1, max_length=MAX_VC_CHARS), MultiLineText] = Field(
        description="The VC as a compact JWS (application/vc+jwt).")
