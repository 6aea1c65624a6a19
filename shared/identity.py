"""Who is calling, as the gateway vouches for it to the services.

The gateway authenticates the caller and passes a short-lived assertion signed with HMAC
(cheap enough for every request: a few microseconds, no asymmetric signing on the hot path).
A service trusts nothing else: a call without a valid assertion did not come through the
gateway and gets 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import orjson
import structlog
from fastapi import Depends, Request

from shared.errors import Unauthenticated
from shared.i18n import Text

ASSERTION_HEADER = "x-ruta-identity"
ASSERTION_HEADER_B = ASSERTION_HEADER.encode()
# Where the front door leaves the identity it admitted, in the ASGI scope of the request. The
# gateway's own routes read it there; so does a service the gateway calls in-process (the
# embedded shape), which has no wire to protect: nothing is signed for it or verified by it
# (measured: 7.5% of the embedded profile read's CPU). A scope is built by the server or by
# the front door, from nothing a caller sends, so no request can set this key; a service
# reached over HTTP never finds it and verifies the signed assertion instead.
IDENTITY_SCOPE_KEY = "ruta.identity"


class Role(StrEnum):
    CASEWORKER = "caseworker"
    COORDINATOR = "coordinator"
    NGO_PARTNER = "ngo_partner"
    PROVIDER = "provider"
    MINISTRY_SYSTEM = "ministry_system"
    ADMIN = "admin"
    SYSTEM = "system"  # a service acting on its own (event handlers); never given to callers


class Permission(StrEnum):
    SENSITIVE_READ = "sensitive:read"


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    role: Role
    organisation_id: str | None
    regions: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    kind: str = "client"  # "client" (machine, OAuth2) or "user" (human, OIDC)
    request_id: str | None = None
    # OAuth scopes granted to a machine client's token; None for people (their role decides).
    scopes: frozenset[str] | None = None

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def to_claims(self) -> dict[str, Any]:
        return {
            "sub": self.subject, "role": self.role.value, "org": self.organisation_id,
            "reg": sorted(self.regions), "perm": sorted(self.permissions), "kind": self.kind,
            "rid": self.request_id,
        }

    @classmethod
    def from_claims(cls, c: dict[str, Any]) -> Identity:
        return cls(
            subject=str(c["sub"]), role=Role(c["role"]), organisation_id=c.get("org"),
            regions=frozenset(c.get("reg") or ()), permissions=frozenset(c.get("perm") or ()),
            kind=c.get("kind", "client"), request_id=c.get("rid"),
        )


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


class AssertionSigner:
    """Signs and verifies the gateway → service identity assertion (``v1.payload.mac``)."""

    def __init__(self, secret: str, ttl_seconds: int = 60) -> None:
        self._key = hashlib.sha256(b"ruta-identity-assertion\0" + secret.encode()).digest()
        self._ttl = ttl_seconds

    def sign(self, identity: Identity, now: float | None = None) -> bytes:
        claims = identity.to_claims()
        claims["exp"] = int((now or time.time()) + self._ttl)
        payload = _b64(orjson.dumps(claims))
        mac = _b64(hmac.new(self._key, b"v1." + payload, hashlib.sha256).digest())
        return b"v1." + payload + b"." + mac

    def verify(self, token: bytes | str | None, now: float | None = None) -> Identity:
        if not token:
            raise Unauthenticated(_NO_ASSERTION)
        raw = token.encode() if isinstance(token, str) else token
        if len(raw) > 8192:
            raise Unauthenticated(_BAD_ASSERTION)
        try:
            version, payload, mac = raw.split(b".")
        except ValueError:
            raise Unauthenticated(_BAD_ASSERTION) from None
        expected = _b64(hmac.new(self._key, b"v1." + payload, hashlib.sha256).digest())
        if version != b"v1" or not hmac.compare_digest(mac, expected):
            raise Unauthenticated(_BAD_ASSERTION)
        try:
            claims = orjson.loads(_unb64(payload))
            if int(claims["exp"]) < (now or time.time()):
                raise Unauthenticated(_BAD_ASSERTION)
            return Identity.from_claims(claims)
        except (ValueError, KeyError, TypeError):
            raise Unauthenticated(_BAD_ASSERTION) from None


_NO_ASSERTION = Text(
    "Este servicio solo acepta llamadas a través de la pasarela (gateway).",
    "This service only accepts calls through the gateway.",
)
_BAD_ASSERTION = Text(
    "La identidad transmitida por la pasarela no es válida o expiró.",
    "The identity passed by the gateway is invalid or expired.",
)


async def current_identity(request: Request) -> Identity:
    admitted: Identity | None = request.scope.get(IDENTITY_SCOPE_KEY)
    if admitted is not None:  # in-process from the front door, which bound the log ids
        return admitted
    signer: AssertionSigner = request.app.state.assertion_signer
    identity = signer.verify(request.headers.get(ASSERTION_HEADER))
    bind_log_ids(identity)
    return identity


def bind_log_ids(identity: Identity) -> None:
    """The caller's ids on every log line of the request from here on: the organisation and,
    for a machine client, its client id. A person's subject is not logged: an identity
    provider may use an e-mail address as the subject."""
    ids: dict[str, str] = {}
    if identity.organisation_id:
        ids["organisation_id"] = identity.organisation_id
    if identity.kind == "client":
        ids["client_id"] = identity.subject
    if ids:
        structlog.contextvars.bind_contextvars(**ids)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]
