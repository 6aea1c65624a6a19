"""The portable record as a bundle: pure functions, no database, no network.

A bundle is a Verifiable Presentation (W3C VC Data Model 2.0) secured with JOSE as
VC-JOSE-COSE says: the presentation is the JWT claims set, header
``{"alg": "ES256", "typ": "vp+jwt", "cty": "vp", "kid": …}``, signed with the origin
deployment's key; the compact JWS is then encrypted to the destination deployment's key
(JWE, RSA-OAEP-256 + A256GCM, ``cty: "JWT"``): a nested JWT, signed then encrypted, so only
the destination reads it and only the origin could have written it.

Opening is strict: exactly RSA-OAEP-256/A256GCM outside and ES256/``vp+jwt`` inside (no
algorithm taken on trust from the token), no ``crit``, no ``jku``/``x5u``/``jwk`` followed,
bounded size, ``aud`` must be this deployment, ``exp`` and ``nbf`` checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from jose import jwe, jws
from jose.exceptions import JOSEError

from services.registry.portability.keys import ENC_ALG, ENC_CONTENT, SIG_ALG

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
RUTA_CONTEXT = "https://ruta-empleabilidad.example/ns/portable-record/v1"
BUNDLE_TYPE = "RutaPortableRecord"
JOSE_TYPE = "vp+jwt"
MEDIA_TYPE = "application/jose"  # the encrypted bundle, as a file the person can carry
VALID_FOR = timedelta(days=30)
MAX_BUNDLE_CHARS = 2_000_000
LEEWAY = timedelta(seconds=60)


class Reason(StrEnum):
    """Why a bundle is refused; the 422 names it."""

    MALFORMED = "malformed"
    NOT_FOR_US = "not_for_this_deployment"
    UNDECRYPTABLE = "undecryptable"
    UNKNOWN_PEER = "unknown_peer"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    NOT_A_PRESENTATION = "not_a_presentation"


class Refused(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def presentation(*, bundle_id: str, issuer: str, audience: str, issued_at: datetime,
                 profile: dict[str, Any], credentials: list[str], route: dict[str, Any],
                 origin_profile_id: str, legal_basis: dict[str, Any]) -> dict[str, Any]:
    """The claims set: the VP itself plus the JWT registered claims."""
    return {
        "@context": [VC_V2_CONTEXT, RUTA_CONTEXT],
        "id": f"urn:uuid:{bundle_id}",
        "type": ["VerifiablePresentation", BUNDLE_TYPE],
        "holder": f"{issuer}/v1/profiles/{origin_profile_id}",
        # each credential as issued (VC-JOSE-COSE: an enveloped credential in a data: URL)
        "verifiableCredential": [
            {"@context": VC_V2_CONTEXT, "type": "EnvelopedVerifiableCredential",
             "id": f"data:application/vc+jwt,{token}"} for token in credentials],
        "portableRecord": {"profile": profile, "route": route, "legalBasis": legal_basis,
                           "originProfileId": origin_profile_id},
        "iss": issuer, "aud": audience, "jti": bundle_id,
        "iat": int(issued_at.timestamp()), "nbf": int(issued_at.timestamp()),
        "exp": int((issued_at + VALID_FOR).timestamp()),
    }


def seal(claims: dict[str, Any], *, sig_kid: str, sig_pem: str,
         destination_key: dict[str, Any]) -> str:
    """Sign with our key, then encrypt to the destination's: the compact JWE."""
    signed = jws.sign(orjson.dumps(claims), sig_pem, algorithm=SIG_ALG,
                      headers={"kid": sig_kid, "typ": JOSE_TYPE, "cty": "vp"})
    encrypted: bytes = jwe.encrypt(signed.encode(), destination_key, encryption=ENC_CONTENT,
                                   algorithm=ENC_ALG, cty="JWT",
                                   kid=str(destination_key["kid"]))
    return encrypted.decode()


def encryption_kid(token: str) -> str:
    """The kid of our key the bundle says it is encrypted to (checked, not trusted)."""
    if not isinstance(token, str) or len(token) > MAX_BUNDLE_CHARS or token.count(".") != 4:
        raise Refused(Reason.MALFORMED)
    try:
        header = jwe.get_unverified_header(token)
    except (JOSEError, ValueError, TypeError):
        raise Refused(Reason.MALFORMED) from None
    if header.get("alg") != ENC_ALG or header.get("enc") != ENC_CONTENT \
            or header.get("crit") is not None or header.get("zip") is not None:
        raise Refused(Reason.MALFORMED)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 64:
        raise Refused(Reason.NOT_FOR_US)
    return kid


def decrypt(token: str, private_pem: str) -> str:
    """The inner compact JWS; a tampered ciphertext, tag or header fails here (AES-GCM)."""
    try:
        inner = jwe.decrypt(token, private_pem)
    except (JOSEError, ValueError, TypeError):
        raise Refused(Reason.UNDECRYPTABLE) from None
    if inner is None:
        raise Refused(Reason.UNDECRYPTABLE)
    return inner.decode() if isinstance(inner, bytes) else str(inner)


@dataclass(frozen=True, slots=True)
class Unverified:
    kid: str
    issuer: str
    token: str


def unverified(signed: str) -> Unverified:
    """Who says they signed: the issuer and kid, to find the key to check them with."""
    if signed.count(".") != 2:
        raise Refused(Reason.MALFORMED)
    try:
        header = jws.get_unverified_header(signed)
        claims = orjson.loads(jws.get_unverified_claims(signed))
    except (JOSEError, ValueError, TypeError, orjson.JSONDecodeError):
        raise Refused(Reason.MALFORMED) from None
    if header.get("alg") != SIG_ALG or header.get("typ") != JOSE_TYPE \
            or header.get("crit") is not None or not isinstance(claims, dict):
        raise Refused(Reason.MALFORMED)
    kid, iss = header.get("kid"), claims.get("iss")
    if not isinstance(kid, str) or not isinstance(iss, str):
        raise Refused(Reason.MALFORMED)
    return Unverified(kid, iss, signed)


def verify(u: Unverified, public: dict[str, Any], *, audience: str, now: datetime
           ) -> dict[str, Any]:
    """The claims, once the signature, audience, validity period and shape hold."""
    try:
        payload = jws.verify(u.token, public, algorithms=[SIG_ALG])
        claims = orjson.loads(payload)
    except (JOSEError, ValueError, TypeError, orjson.JSONDecodeError):
        raise Refused(Reason.BAD_SIGNATURE) from None
    if claims.get("aud") != audience:
        raise Refused(Reason.NOT_FOR_US)
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int) or not isinstance(nbf, int):
        raise Refused(Reason.NOT_A_PRESENTATION)
    ts = now.timestamp()
    if exp < ts - LEEWAY.total_seconds():
        raise Refused(Reason.EXPIRED)
    if nbf > ts + LEEWAY.total_seconds():
        raise Refused(Reason.NOT_YET_VALID)
    types = claims.get("type")
    record = claims.get("portableRecord")
    if not (isinstance(types, list) and "VerifiablePresentation" in types
            and BUNDLE_TYPE in types and isinstance(record, dict)
            and isinstance(record.get("profile"), dict)
            and isinstance(claims.get("jti"), str) and 0 < len(claims["jti"]) <= 64
            and isinstance(claims.get("verifiableCredential", []), list)):
        raise Refused(Reason.NOT_A_PRESENTATION)
    return dict(claims)


def enveloped_credentials(claims: dict[str, Any]) -> list[str]:
    """The compact VC-JWTs the presentation carries."""
    out = []
    for item in claims.get("verifiableCredential", []):
        ref = item.get("id") if isinstance(item, dict) else None
        if isinstance(ref, str) and ref.startswith("data:application/vc+jwt,"):
            out.append(ref.split(",", 1)[1])
    return out
