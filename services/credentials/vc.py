"""Verifiable credentials: W3C VC Data Model 2.0 in the Open Badges 3.0 shape, secured with
JOSE as VC-JOSE-COSE says (the credential itself is the JWT claims set; header
``{"alg": "ES256", "typ": "vc+jwt", "cty": "vc", "kid": …}``).

Building and checking are pure functions; key lookup and the status bits are the caller's.
Verification is strict on purpose: exactly ES256 and ``vc+jwt`` (no ``none``, no HMAC, no
algorithm taken from the token), canonical base64url only (a changed last character of the
signature must not decode to the same bytes), no ``crit`` extensions, bounded size.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import orjson
from jose import jwk as jose_jwk
from jose import jws
from jose.exceptions import JOSEError

from services.credentials.achievement import description_of, evidence_of, subject_of
from services.credentials.keys import ALGORITHM, SigningKey
from services.credentials.models import Credential
from services.credentials.status_list import LIST_SIZE, Purpose, xml_datetime

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
MEDIA_TYPE = "application/vc+jwt"
JOSE_TYPE = "vc+jwt"
MAX_VC_CHARS = 32_768
CLOCK_LEEWAY = timedelta(seconds=60)

ISSUER_NAME = "Ruta de Empleabilidad — OIT, ACNUR y socios (Perú y Ecuador)"
ISSUER_DESCRIPTION = (
    "Ruta de empleabilidad para personas migrantes y refugiadas venezolanas en Perú y Ecuador. "
    "Da fe del estado de verificación de credenciales declaradas por las personas "
    "participantes, comprobado por su equipo de gestión de casos o por la autoridad "
    "competente (SUNEDU, SENESCYT, MTPE…).")

# The path of the issuer's public documents; the gateway forwards it without a token.
ISSUER_PATH = "/v1/credentials/issuer"
_STATUS_URL = re.compile(
    r"/v1/credentials/issuer/status/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}"
    r"-[0-9a-f]{12})/(revocation|suspension)$")
# XML Schema 1.1 dateTimeStamp, as VC Data Model 2.0 section 4.9 gives it.
XML_DATETIME = re.compile(
    r"^-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --- URLs ---------------------------------------------------------------------------------

def issuer_id(base_url: str) -> str:
    return f"{base_url.rstrip('/')}{ISSUER_PATH}/profile"


def jwks_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}{ISSUER_PATH}/jwks.json"


def status_list_url(base_url: str, list_id: str, purpose: Purpose) -> str:
    return f"{base_url.rstrip('/')}{ISSUER_PATH}/status/{list_id}/{purpose.value}"


def issuer_profile(base_url: str, keys: list[dict[str, Any]]) -> dict[str, Any]:
    """The issuer as an Open Badges Profile, listing its keys as verification methods."""
    me = issuer_id(base_url)
    return {
        "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT],
        "id": me,
        "type": ["Profile"],
        "name": ISSUER_NAME,
        "description": ISSUER_DESCRIPTION,
        "url": base_url.rstrip("/"),
        "jwks_uri": jwks_url(base_url),
        "verificationMethod": [
            {"id": f"{me}#{k['kid']}", "type": "JsonWebKey", "controller": me,
             "publicKeyJwk": {f: k[f] for f in ("kty", "crv", "x", "y")}}
            for k in keys
        ],
    }


# --- building -----------------------------------------------------------------------------

def valid_until_of(credential: Credential) -> datetime | None:
    if credential.expires_on is None:
        return None
    return datetime.combine(credential.expires_on, time(23, 59, 59), tzinfo=UTC)


def build_credential(
    *, credential: Credential, holder: dict[str, Any], vc_id: str, issued_at: datetime,
    base_url: str, status_list_id: str, status_position: int,
) -> dict[str, Any]:
    """The VC (an OpenBadgeCredential) for a credential we vouch for; ``holder`` is the
    subject's IdentityObject (a salted hash unless the person asked for their name)."""
    c = credential
    vc: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT],
        "id": f"urn:uuid:{vc_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_id(base_url), "type": ["Profile"], "name": ISSUER_NAME},
        "name": c.title,
        "description": description_of(c),
        "validFrom": xml_datetime(issued_at),
    }
    if (until := valid_until_of(c)) is not None:
        vc["validUntil"] = xml_datetime(until)
    vc["credentialSubject"] = subject_of(c, holder)
    if evidence := evidence_of(c):
        vc["evidence"] = evidence
    vc["credentialStatus"] = [
        {"id": f"{status_list_url(base_url, status_list_id, p)}#{status_position}",
         "type": "BitstringStatusListEntry", "statusPurpose": p.value,
         "statusListIndex": str(status_position),
         "statusListCredential": status_list_url(base_url, status_list_id, p)}
        for p in (Purpose.REVOCATION, Purpose.SUSPENSION)
    ]
    return vc


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    """Compact JWS of the claims, as ``application/vc+jwt``."""
    token: str = jws.sign(orjson.dumps(claims), key.private,
                          headers={"typ": JOSE_TYPE, "cty": "vc", "kid": key.kid},
                          algorithm=ALGORITHM)
    return token


# --- checking -----------------------------------------------------------------------------

class Reason(StrEnum):
    MALFORMED = "malformed"
    UNSUPPORTED_TYPE = "unsupported_type"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    NOT_A_CREDENTIAL = "not_a_verifiable_credential"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    NO_STATUS = "status_unavailable"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class Invalid(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Parsed:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def kid(self) -> str:
        return str(self.header["kid"])


@dataclass(frozen=True)
class StatusRef:
    purpose: Purpose
    list_id: str
    position: int


def _b64decode_strict(segment: str) -> bytes:
    """base64url without padding, canonical only: re-encoding gives the same text back."""
    if not _B64URL.match(segment) or len(segment) % 4 == 1:
        raise Invalid(Reason.MALFORMED)
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise Invalid(Reason.MALFORMED) from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise Invalid(Reason.MALFORMED)
    return raw


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Invalid(Reason.MALFORMED) from None
    if not isinstance(value, dict):
        raise Invalid(Reason.MALFORMED)
    return value


def parse(token: str) -> Parsed:
    """Split and decode a compact JWS, checking the header says exactly what we issue."""
    token = token.strip()
    if not token or len(token) > MAX_VC_CHARS:
        raise Invalid(Reason.MALFORMED)
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise Invalid(Reason.MALFORMED)
    header = _json_object(_b64decode_strict(parts[0]))
    if header.get("alg") != ALGORITHM:
        raise Invalid(Reason.UNSUPPORTED_ALGORITHM)
    if header.get("typ") != JOSE_TYPE or header.get("cty", "vc") != "vc":
        raise Invalid(Reason.UNSUPPORTED_TYPE)
    if "crit" in header or "b64" in header or any(
        h in header for h in ("jku", "jwk", "x5u", "x5c")
    ):
        raise Invalid(Reason.MALFORMED)  # keys come only from our database
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise Invalid(Reason.UNKNOWN_KEY)
    claims = _json_object(_b64decode_strict(parts[1]))
    signature = _b64decode_strict(parts[2])
    return Parsed(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def verify_signature(parsed: Parsed, public_jwk: dict[str, Any]) -> None:
    if len(parsed.signature) != 64:
        raise Invalid(Reason.BAD_SIGNATURE)
    try:
        key = jose_jwk.construct({f: public_jwk[f] for f in ("kty", "crv", "x", "y")},
                                 algorithm=ALGORITHM)
        ok = key.verify(parsed.signing_input, parsed.signature)
    except (JOSEError, KeyError, ValueError, TypeError):
        raise Invalid(Reason.BAD_SIGNATURE) from None
    if not ok:
        raise Invalid(Reason.BAD_SIGNATURE)


def _parse_xml_datetime(value: Any) -> datetime:
    if not isinstance(value, str) or not XML_DATETIME.match(value):
        raise Invalid(Reason.NOT_A_CREDENTIAL)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(Reason.NOT_A_CREDENTIAL) from None
    return parsed


def check_data_model(claims: dict[str, Any]) -> None:
    """The VC Data Model 2.0 requirements a verifier can check without fetching anything."""
    contexts = claims.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != VC_V2_CONTEXT:
        raise Invalid(Reason.NOT_A_CREDENTIAL)
    types = claims.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise Invalid(Reason.NOT_A_CREDENTIAL)
    issuer = claims.get("issuer")
    issuer_ref = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not isinstance(issuer_ref, str) or not issuer_ref:
        raise Invalid(Reason.NOT_A_CREDENTIAL)
    subject = claims.get("credentialSubject")
    if not (isinstance(subject, dict) and subject) and not (
        isinstance(subject, list) and subject and all(isinstance(s, dict) for s in subject)
    ):
        raise Invalid(Reason.NOT_A_CREDENTIAL)


def check_validity_period(claims: dict[str, Any], now: datetime) -> None:
    if "validFrom" in claims and _parse_xml_datetime(claims["validFrom"]) > now + CLOCK_LEEWAY:
        raise Invalid(Reason.NOT_YET_VALID)
    if "validUntil" in claims and _parse_xml_datetime(claims["validUntil"]) < now - CLOCK_LEEWAY:
        raise Invalid(Reason.EXPIRED)


def status_refs(claims: dict[str, Any]) -> list[StatusRef]:
    """Our BitstringStatusListEntry entries; a VC of ours without them is not ours."""
    raw = claims.get("credentialStatus")
    entries = [raw] if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not entries:
        raise Invalid(Reason.NO_STATUS)
    refs = []
    for entry in entries[:10]:
        if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
            raise Invalid(Reason.NO_STATUS)
        url, index = entry.get("statusListCredential"), entry.get("statusListIndex")
        match = _STATUS_URL.search(url) if isinstance(url, str) else None
        if (match is None or not isinstance(index, str) or not index.isdigit()
                or len(index) > 7 or int(index) >= LIST_SIZE
                or entry.get("statusPurpose") != match.group(2)):
            raise Invalid(Reason.NO_STATUS)
        refs.append(StatusRef(Purpose(match.group(2)), match.group(1), int(index)))
    return refs
