"""An offline check of the W3C VC Data Model 2.0 (and the Open Badges 3.0 shape), written from
the specifications independently of the service's own code, so it can catch its mistakes."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
# VC Data Model 2.0 §4.9 (validity period): an XML Schema 1.1 dateTimeStamp
DATETIME_STAMP = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))")
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def b64url_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def split_vc_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header_b64, payload_b64, signature_b64 = token.split(".")
    assert signature_b64
    return b64url_json(header_b64), b64url_json(payload_b64)


def _types(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def data_model_errors(vc: dict[str, Any]) -> list[str]:
    """Violations of VC Data Model 2.0 (section 4) and of OB 3.0's required properties."""
    errors = []
    ctx = vc.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_V2:
        errors.append("@context: first entry must be the VC 2.0 context")
    elif OB_V3 not in ctx:
        errors.append("@context: Open Badges 3.0 context missing")
    if "VerifiableCredential" not in _types(vc.get("type", [])):
        errors.append("type: must include VerifiableCredential")
    if "id" in vc and not (isinstance(vc["id"], str) and URL.match(vc["id"])):
        errors.append("id: must be a URL")
    issuer = vc.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not (isinstance(issuer_id, str) and URL.match(issuer_id)):
        errors.append("issuer: must be a URL or an object with a URL id")
    subjects = vc.get("credentialSubject")
    subjects = [subjects] if isinstance(subjects, dict) else subjects
    if not subjects or not all(isinstance(s, dict) and s for s in subjects):
        errors.append("credentialSubject: one or more non-empty objects")
    for name in ("validFrom", "validUntil"):
        if name in vc and not (isinstance(vc[name], str) and DATETIME_STAMP.fullmatch(vc[name])):
            errors.append(f"{name}: must be an XML Schema dateTimeStamp")
    status = vc.get("credentialStatus")
    for entry in [status] if isinstance(status, dict) else (status or []):
        if "type" not in entry:
            errors.append("credentialStatus: every entry needs a type")
        if entry.get("type") == "BitstringStatusListEntry":
            if entry.get("statusPurpose") not in ("revocation", "suspension", "refresh",
                                                  "message"):
                errors.append("credentialStatus: unknown statusPurpose")
            if not str(entry.get("statusListIndex", "")).isdigit():
                errors.append("credentialStatus: statusListIndex must be a base-10 integer "
                              "string")
            if not URL.match(str(entry.get("statusListCredential", ""))):
                errors.append("credentialStatus: statusListCredential must be a URL")
    # Open Badges 3.0 (OpenBadgeCredential): id, name, validFrom; AchievementSubject with
    # an id or an identifier, and an achievement with id, type, name, description, criteria.
    if "OpenBadgeCredential" in _types(vc.get("type", [])):
        for prop in ("id", "name", "validFrom"):
            if prop not in vc:
                errors.append(f"OB 3.0: {prop} required")
        for s in subjects or []:
            if "AchievementSubject" not in _types(s.get("type", [])):
                errors.append("OB 3.0: credentialSubject type AchievementSubject")
            if "id" not in s and not s.get("identifier"):
                errors.append("OB 3.0: credentialSubject needs id or identifier")
            achievement = s.get("achievement") or {}
            for prop in ("id", "type", "name", "description", "criteria"):
                if prop not in achievement:
                    errors.append(f"OB 3.0: achievement.{prop} required")
    return errors
