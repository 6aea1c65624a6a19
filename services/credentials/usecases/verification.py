"""The public check of a verifiable credential: anyone may ask, nobody learns more than the
credential itself says."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.credentials import vc
from services.credentials.keys import IssuerKeys
from services.credentials.peer_issuers import PeerIssuers
from services.credentials.repository import FLAGGED, StatusRepository
from services.credentials.responses import VerificationStatus, VerifyOut
from services.credentials.status_list import Purpose
from shared.clock import utcnow
from shared.db import Database
from shared.i18n import Text

VERIFY_MESSAGES: dict[str | None, Text] = {
    None: Text("La credencial es válida.", "The credential is valid."),
    vc.Reason.MALFORMED: Text("No es una credencial JOSE compacta bien formada.",
                              "Not a well-formed compact JOSE credential."),
    vc.Reason.UNSUPPORTED_TYPE: Text("La cabecera no declara typ «vc+jwt».",
                                     "The header does not declare typ 'vc+jwt'."),
    vc.Reason.UNSUPPORTED_ALGORITHM: Text("Solo se aceptan firmas ES256.",
                                          "Only ES256 signatures are accepted."),
    vc.Reason.UNKNOWN_KEY: Text("La clave de firma no es de este emisor.",
                                "The signing key is not one of this issuer's."),
    vc.Reason.BAD_SIGNATURE: Text("La firma no corresponde al emisor.",
                                  "The signature does not match the issuer."),
    vc.Reason.NOT_A_CREDENTIAL: Text("El contenido no es una credencial verificable 2.0.",
                                     "The content is not a verifiable credential 2.0."),
    vc.Reason.NOT_YET_VALID: Text("La credencial aún no es válida.",
                                  "The credential is not valid yet."),
    vc.Reason.EXPIRED: Text("La credencial venció.", "The credential has expired."),
    vc.Reason.NO_STATUS: Text("La credencial no indica un estado que este emisor publique.",
                              "The credential carries no status this issuer publishes."),
    vc.Reason.REVOKED: Text("El emisor revocó la credencial.",
                            "The issuer has revoked the credential."),
    vc.Reason.SUSPENDED: Text("El emisor suspendió la credencial.",
                              "The issuer has suspended the credential."),
}


def _verdict(status: VerificationStatus, reason: vc.Reason | None, now: datetime) -> VerifyOut:
    return VerifyOut(status=status, reason=reason.value if reason else None,
                     message=VERIFY_MESSAGES[reason].render(), checked_at=now)


async def verify_vc(*, db: Database, token: str, now: datetime | None = None,
                    peer_issuers: PeerIssuers | None = None) -> VerifyOut:
    """Public verification: signature with one of our keys (current or retired), the VC 2.0
    data model, the validity period, then the status list bits. Any failure is the same
    shape; nothing about the person or our data beyond the credential itself. A credential
    issued by a trusted peer deployment is checked against that peer's keys and status lists
    (issue 21): a status list out of reach is ``status_unavailable``, never valid."""
    now = now or utcnow()
    try:
        parsed = vc.parse(token)
        async with db.uow() as uow:
            public = await IssuerKeys(uow.session).public(parsed.kid)
        peer = peer_issuers.issuer_of(parsed.claims) if peer_issuers and public is None \
            else None
        if peer is not None and peer_issuers is not None:
            verdict = await peer_issuers.verify(peer, parsed, now)
            return _verdict(VerificationStatus(verdict.status), verdict.reason, now)
        async with db.uow() as uow:
            if public is None:
                raise vc.Invalid(vc.Reason.UNKNOWN_KEY)
            vc.verify_signature(parsed, public)
            vc.check_data_model(parsed.claims)
            issuer = parsed.claims["issuer"]
            issuer_ref = issuer.get("id") if isinstance(issuer, dict) else issuer
            if not str(issuer_ref).endswith(f"{vc.ISSUER_PATH}/profile"):
                raise vc.Invalid(vc.Reason.NOT_A_CREDENTIAL)
            vc.check_validity_period(parsed.claims, now)
            flags = await _flagged_purposes(StatusRepository(uow.session), parsed.claims)
    except vc.Invalid as exc:
        return _verdict(VerificationStatus.INVALID, exc.reason, now)
    if Purpose.REVOCATION in flags:
        return _verdict(VerificationStatus.REVOKED, vc.Reason.REVOKED, now)
    if Purpose.SUSPENSION in flags:
        return _verdict(VerificationStatus.SUSPENDED, vc.Reason.SUSPENDED, now)
    return _verdict(VerificationStatus.VALID, None, now)


async def _flagged_purposes(statuses: StatusRepository, claims: dict[str, Any]
                            ) -> set[Purpose]:
    """The status purposes (revocation, suspension) whose bit is set for this credential."""
    flags = set()
    types = claims.get("type")
    is_status_list = isinstance(types, list) and "BitstringStatusListCredential" in types
    for ref in [] if is_status_list else vc.status_refs(claims):
        state = await statuses.status_at(ref.list_id, ref.position)
        if state is not None and state in FLAGGED[ref.purpose]:
            flags.add(ref.purpose)
    return flags
