"""A credential described in Open Badges 3.0 terms: the ``Achievement`` (kind, exact title,
original issuer, ISCED-F / ISCO-08 / competency standard / CEFR alignments), the
``AchievementSubject`` holding it, and the evidence behind our word. Pure functions; the VC
around them (issuer, validity, status entries, signature) is :mod:`services.credentials.vc`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

from services.credentials.classification import (
    CEFR_URL,
    ISCED_F_URL,
    ISCO_08_URL,
    isced_f_label,
)
from services.credentials.lifecycle import Status
from services.credentials.models import Credential
from services.credentials.status_list import xml_datetime

_ACHIEVEMENT_NS = uuid.UUID("5d0a4b8e-6a53-4c1e-9a0f-0f1e2d3c4b5a")

ACHIEVEMENT_TYPES = {
    "academic_degree": "Degree",
    "professional_licence": "License",
    "skills_certification": "Certification",
    "training_completion": "CertificateOfCompletion",
    "language": "Certificate",
}
KIND_NAMES_ES = {
    "academic_degree": "Título académico",
    "professional_licence": "Licencia profesional",
    "skills_certification": "Certificación de competencias laborales",
    "training_completion": "Capacitación completada",
    "language": "Certificado de idioma",
}
TRAINING_MODULES_ES = {
    "business_management": "Gestión empresarial",
    "financial_education": "Educación financiera",
    "sst": "Seguridad y salud en el trabajo (SST)",
}
STATUS_NARRATIVE_ES = {
    Status.VERIFIED_WITH_ISSUER: "verificada directamente con la institución emisora",
    Status.RECOGNISED: "reconocida oficialmente por la autoridad competente",
}


def _original_issuer(c: Credential) -> dict[str, Any] | None:
    if not c.issuer_name:
        return None
    ident = c.issuer_identifier or ""
    if re.match(r"^https?://", ident):
        profile_id = ident
    else:
        profile_id = "urn:ruta:issuer:" + quote(
            f"{c.issuer_country or 'xx'}:{ident or c.issuer_name}".lower(), safe=":")
    profile: dict[str, Any] = {"id": profile_id, "type": ["Profile"], "name": c.issuer_name}
    if c.issuer_country:
        profile["address"] = {"type": ["Address"], "addressCountryCode": c.issuer_country}
    return profile


def _alignments(c: Credential) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if c.field_isced:
        out.append({"type": ["Alignment"], "targetType": "ext:ISCED-F",
                    "targetFramework": "ISCED-F 2013", "targetCode": c.field_isced,
                    "targetName": isced_f_label(c.field_isced), "targetUrl": ISCED_F_URL})
    if c.occupation_isco:
        out.append({"type": ["Alignment"], "targetType": "ext:ISCO-08",
                    "targetFramework": "ISCO-08", "targetCode": c.occupation_isco,
                    "targetName": f"ISCO-08 {c.occupation_isco}", "targetUrl": ISCO_08_URL})
    if c.competency_standard_code:
        out.append({"type": ["Alignment"], "targetType": "ceasn:Competency",
                    "targetFramework": c.certifying_body or "Norma de competencia laboral",
                    "targetCode": c.competency_standard_code,
                    "targetName": c.competency_standard_name or c.competency_standard_code,
                    "targetUrl": "urn:ruta:competency-standard:"
                                 + quote(c.competency_standard_code, safe="")})
    if c.kind == "language" and c.level:
        out.append({"type": ["Alignment"], "targetType": "ext:CEFR",
                    "targetFramework": "CEFR", "targetCode": c.level,
                    "targetName": f"CEFR {c.level} ({c.language})", "targetUrl": CEFR_URL})
    return out


def description_of(c: Credential) -> str:
    """One Spanish sentence: kind, exact title, issuer, date, level, module."""
    parts = [f"{KIND_NAMES_ES.get(c.kind, c.kind)}: {c.title}"]
    if c.issuer_name:
        parts.append(f"otorgado por {c.issuer_name}"
                     + (f" ({c.issuer_country})" if c.issuer_country else ""))
    if c.issued_on:
        parts.append(f"el {c.issued_on.isoformat()}")
    text = " ".join(parts) + "."
    if c.level:
        text += f" Nivel: {c.level}."
    if c.training_module:
        text += f" Módulo: {TRAINING_MODULES_ES.get(c.training_module, c.training_module)}."
    return text


def evidence_of(c: Credential) -> list[dict[str, Any]]:
    """What backs our word: the recognition resolution, the competency assessment."""
    out: list[dict[str, Any]] = []
    if c.status == Status.RECOGNISED and c.recognition_body:
        out.append({"type": ["Evidence"], "name": f"Reconocimiento {c.recognition_body}",
                    "description": f"Resolución {c.recognition_resolution} del "
                                   f"{c.recognition_date.isoformat() if c.recognition_date else ''}"
                                   .strip(),
                    "genre": "Recognition"})
    if c.kind == "skills_certification" and c.assessment_date:
        out.append({"type": ["Evidence"], "name": "Evaluación de competencias",
                    "description": f"Evaluación del {c.assessment_date.isoformat()}"
                                   + (f" por {c.certifying_body}" if c.certifying_body else ""),
                    "genre": "Assessment"})
    return out


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0, 0), tzinfo=UTC)


def achievement_of(c: Credential) -> dict[str, Any]:
    """The Achievement: what the person holds, named as on the document and aligned with the
    international classifications; its id is stable per credential, never the internal id."""
    achievement: dict[str, Any] = {
        "id": f"urn:uuid:{uuid.uuid5(_ACHIEVEMENT_NS, c.id)}",
        "type": ["Achievement"],
        "achievementType": ACHIEVEMENT_TYPES[c.kind],
        "name": c.title,
        "description": description_of(c),
        "criteria": {"narrative": (
            f"La credencial fue declarada por la persona titular y "
            f"{STATUS_NARRATIVE_ES.get(Status(c.status), 'verificada')} "
            f"por la Ruta de Empleabilidad.")},
        "inLanguage": "es",
    }
    if (creator := _original_issuer(c)) is not None:
        achievement["creator"] = creator
    if alignments := _alignments(c):
        achievement["alignment"] = alignments
    if c.field_isced:
        achievement["fieldOfStudy"] = isced_f_label(c.field_isced)
    if c.competency_standard_code:
        achievement["humanCode"] = c.competency_standard_code
    return achievement


def subject_of(c: Credential, holder: dict[str, Any]) -> dict[str, Any]:
    """The AchievementSubject: the holder (an IdentityObject, see
    :mod:`services.credentials.subject`) and the achievement."""
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [holder],
        "achievement": achievement_of(c),
    }
    if c.issued_on:
        subject["activityEndDate"] = xml_datetime(_start_of(c.issued_on))
    return subject
