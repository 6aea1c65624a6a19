"""The person's consent decisions, and the answer to "may this organisation receive them"."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.registry.schemas.common import OrgId, assume_utc
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.text import OneLineText


class ConsentPurpose(StrEnum):
    REGISTRATION = "registration"
    REFERRAL = "referral"                      # sharing with a named organisation/programme
    CREDENTIAL_SHARING = "credential_sharing"  # issuing/exporting verifiable credentials
    STATISTICS = "statistics"
    CONTACT = "contact"
    TRANSFER = "transfer"  # the portable record to another country's deployment (issue 21)
    JOB_MATCHING = "job_matching"              # listed among a named organisation's vacancy
    #                                            candidates (issue 20)


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Evidence(StrEnum):
    WRITTEN = "written"
    DIGITAL_SIGNATURE = "digital_signature"
    VERBAL_WITNESSED = "verbal_witnessed"


WRITTEN_EVIDENCE = frozenset({Evidence.WRITTEN, Evidence.DIGITAL_SIGNATURE})


_RECIPIENT_REQUIRED = Text(
    "El consentimiento para derivación debe nombrar la organización o el programa receptor",
    "A referral consent must name the receiving organisation or programme")
_DEPLOYMENT_REQUIRED = Text(
    "El consentimiento de transferencia, y solo él, nombra el despliegue de destino "
    "(recipient_deployment_id)",
    "A transfer consent, and only a transfer consent, names the destination deployment "
    "(recipient_deployment_id)")
_MATCHING_RECIPIENT_REQUIRED = Text(
    "El consentimiento para intermediación laboral debe nombrar la organización receptora",
    "A job matching consent must name the receiving organisation")
_WRITTEN_REQUIRED = Text(
    "Los datos sensibles requieren consentimiento por escrito o firma digital (Ley 29733)",
    "Sensitive data needs written or digitally signed consent (Ley 29733)")
_WITNESS_REQUIRED = Text("El consentimiento verbal requiere el nombre del testigo",
                         "Verbal consent needs the witness")
_PAST_VALIDITY = Text("La vigencia debe terminar en el futuro",
                      "The validity must end in the future")


class ConsentIn(BaseModel):
    """One decision of the person. ``status`` is the decision taken now (granted or refused);
    withdrawal is a later transition (``…/consents/{id}/withdraw``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {
            "purpose": "referral", "status": "granted", "recipient_organisation_id":
            "mtpe-empleo", "evidence": "written", "evidence_reference": "FORM-2026-0042",
            "valid_until": "2027-12-31T23:59:59Z"}},
    )

    purpose: ConsentPurpose
    status: Literal["granted", "refused"] = "granted"
    recipient_organisation_id: OrgId | None = Field(
        default=None, description="Organisation that may receive the data (referral: "
                                  "required unless a programme is named).")
    recipient_deployment_id: OrgId | None = Field(
        default=None, description="transfer: the other country's deployment (an id of "
                                  "RUTA_PEER_DEPLOYMENTS) the portable record may go to.")
    programme_id: OrgId | None = None
    sensitive_data: StrictBool = Field(
        default=False, description="The consent covers sensitive data (violence, health, "
                                   "disability, protection): written evidence required.")
    evidence: Evidence
    evidence_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                         max_length=200),
                                  OneLineText] | None = Field(
        default=None, description="Where the signed form or recording is filed; no personal "
                                  "data.")
    witnessed_by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=200), OneLineText] | None = None
    valid_until: datetime | None = None

    @field_validator("valid_until")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        value = assume_utc(value)
        if value is not None and value <= datetime.now(UTC):
            raise InvalidValue(_PAST_VALIDITY)
        return value

    @model_validator(mode="after")
    def _rules(self) -> ConsentIn:
        if (self.purpose is ConsentPurpose.REFERRAL and self.recipient_organisation_id is None
                and self.programme_id is None):
            raise InvalidValue(_RECIPIENT_REQUIRED)
        if (self.purpose is ConsentPurpose.TRANSFER) != (self.recipient_deployment_id
                                                          is not None):
            raise InvalidValue(_DEPLOYMENT_REQUIRED)
        if self.purpose is ConsentPurpose.JOB_MATCHING and self.recipient_organisation_id is None:
            raise InvalidValue(_MATCHING_RECIPIENT_REQUIRED)
        if self.sensitive_data and self.evidence not in WRITTEN_EVIDENCE:
            raise InvalidValue(_WRITTEN_REQUIRED)
        if self.evidence is Evidence.VERBAL_WITNESSED and not self.witnessed_by:
            raise InvalidValue(_WITNESS_REQUIRED)
        return self


class ConsentOut(BaseModel):
    id: str
    profile_id: str
    purpose: ConsentPurpose
    status: ConsentStatus = Field(description="Expired when granted and past valid_until.")
    recipient_organisation_id: str | None
    recipient_deployment_id: str | None = Field(
        None, description="transfer: the destination deployment.")
    programme_id: str | None
    sensitive_data: bool
    evidence: Evidence
    evidence_reference: str | None
    witnessed_by: str | None
    valid_until: datetime | None
    recorded_by: str
    recorded_by_organisation_id: str | None
    recorded_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    version: int


class ConsentCheckOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "organisation_id": "ong-lima",
        "region": "PE-LMA", "purpose": "referral",
        "recipient": "mtpe-empleo", "granted": True,
        "consent_id": "0b7d9d3e-8a0e-4a43-9c55-6f3c2a1d4e5f"}})

    profile_id: str = Field(description="The profile answered for: a merged id's survivor.")
    organisation_id: str = Field(description="The organisation that registered the person.")
    region: str = Field(description="The person's region (ISO 3166-2), where services that "
                        "act on the answer check their reach.")
    purpose: ConsentPurpose
    recipient: str | None
    granted: bool
    consent_id: str | None
