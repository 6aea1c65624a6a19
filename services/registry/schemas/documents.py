"""Identity documents as sent and as answered."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.registry import documents as docs
from services.registry.documents import DocumentType, Verification
from services.registry.schemas.common import Alpha3
from shared.errors import InvalidValue
from shared.text import OneLineText


class DocumentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {
            "type": "ve_cedula", "number": "V-12.345.678", "expiry_date": "2030-05-31",
            "verification": "seen", "authorises_work": False}},
    )

    type: DocumentType = Field(description=(
        "pe_dni (8 digits), pe_cpp, pe_ptp, pe_carne_extranjeria, "
        "pe_carne_solicitante_refugio, ec_cedula (10 digits, check digit), ec_visa_virte, "
        "ve_cedula (V/E + digits), ve_passport, passport (issuing_country required)"))
    number: Annotated[str, StringConstraints(min_length=1, max_length=40), OneLineText] = Field(
        description="As written on the document; stored normalised (upper case, no spaces, "
                    "dots or dashes).")
    issuing_country: Alpha3 | None = Field(
        default=None, validate_default=True,
        description="ISO 3166-1 alpha-3; implied by national document types, required for "
                    "`passport`.")
    expiry_date: date | None = None
    verification: Verification = Verification.SELF_DECLARED
    authorises_work: StrictBool | None = Field(
        default=None, description="Whether this document authorises its holder to work.")

    @field_validator("number")
    @classmethod
    def _number(cls, value: str, info: ValidationInfo) -> str:
        doc_type = info.data.get("type")
        if doc_type is None:
            return docs.normalise_number(value)
        number, _, errors = docs.validate(doc_type, value, None)
        for field, text in errors:
            if field == "number":
                raise InvalidValue(text)
        return number

    @field_validator("issuing_country")
    @classmethod
    def _country(cls, value: str | None, info: ValidationInfo) -> str | None:
        doc_type = info.data.get("type")
        if doc_type is None:
            return value
        rule = docs.RULES[doc_type]
        if value is None and rule.country is None:
            raise InvalidValue(docs.COUNTRY_REQUIRED)
        if value is not None and rule.country is not None and value != rule.country:
            raise InvalidValue(docs.COUNTRY_MISMATCH)
        return value or rule.country


class DocumentOut(BaseModel):
    id: str
    type: DocumentType
    number: str | None
    issuing_country: str
    expiry_date: date | None
    verification: Verification
    authorises_work: bool | None
    expired: bool
    accepted_for_identification: bool = Field(
        description="In force, or a passport expired no more than five years ago.")
    created_at: datetime
