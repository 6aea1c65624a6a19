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
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any

import orjson
import structlog
from fastapi import Depends, Request

from shared.errors import Unauthenticated
from shared.i18n import Text
from shared.observability import current_request_id

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
        }

    @classmethod
    def from_claims(cls, c: dict[str, Any]) -> Identity:
        return cls(
            subject=str(c["sub"]), role=Role(c["role"]), organisation_id=c.get("org"),
            regions=frozenset(c.get("reg") or ()), permissions=frozenset(c.get("perm") or ()),
            kind=c.get("kind", "client"),
        )


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


class AssertionSigner:
    """Signs and verifies the gateway → service identity assertion (``v1.payload.mac``).

    The assertion says who the caller is, not which request this is: the request id travels
    in ``X-Request-ID`` and the service takes it from its own request context
    (:func:`current_identity`). So a caller's assertion is signed once and reused until half
    its lifetime has passed, and a service checks a given assertion once and remembers it
    until it expires: signing and checking were 4% of the gateway's CPU and 5% of the
    registry's per forwarded read (py-spy, decision 0020). A cached assertion is exactly the
    one that would be made again: same identity, an expiry at most ``ttl`` away.
    """

    CACHE_SIZE = 4096  # callers (signed) or assertions (verified) remembered; then forgotten

    def __init__(self, secret: str, ttl_seconds: int = 60) -> None:
        self._key = hashlib.sha256(b"ruta-identity-assertion\0" + secret.encode()).digest()
        self._ttl = ttl_seconds
        self._signed: dict[Identity, tuple[bytes, float]] = {}
        self._verified: dict[bytes, tuple[Identity, int]] = {}

    def sign(self, identity: Identity, now: float | None = None) -> bytes:
        """``identity``'s assertion (its request id is not part of it); ``now`` (tests)
        signs afresh at that time."""
        caller = identity if identity.request_id is None else replace(identity, request_id=None)
        at = time.time() if now is None else now
        if now is None and (kept := self._signed.get(caller)) is not None and at < kept[1]:
            return kept[0]
        claims = caller.to_claims()
        claims["exp"] = int(at + self._ttl)
        payload = _b64(orjson.dumps(claims))
        token = b"v1." + payload + b"." + _b64(self._mac(payload))
        if now is None:
            self._remember(self._signed, caller, (token, at + self._ttl / 2))
        return token

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, b"v1." + payload, "sha256")

    def verify(self, token: bytes | str | None, now: float | None = None) -> Identity:
        if not token:
            raise Unauthenticated(_NO_ASSERTION)
        raw = token.encode() if isinstance(token, str) else token
        if len(raw) > 8192:
            raise Unauthenticated(_BAD_ASSERTION)
        at = time.time() if now is None else now
        if (kept := self._verified.get(raw)) is not None:  # checked before, byte for byte
            if kept[1] < at:
                raise Unauthenticated(_BAD_ASSERTION)
            return kept[0]
        try:
            version, payload, mac = raw.split(b".")
        except ValueError:
            raise Unauthenticated(_BAD_ASSERTION) from None
        if version != b"v1" or not hmac.compare_digest(mac, _b64(self._mac(payload))):
            raise Unauthenticated(_BAD_ASSERTION)
        try:
            claims = orjson.loads(_unb64(payload))
            exp = int(claims["exp"])
            if exp < at:
                raise Unauthenticated(_BAD_ASSERTION)
            identity = Identity.from_claims(claims)
        except (ValueError, KeyError, TypeError):
            raise Unauthenticated(_BAD_ASSERTION) from None
        self._remember(self._verified, raw, (identity, exp))
        return identity

    def _remember(self, cache: dict[Any, Any], key: Any, value: Any) -> None:
        """Kept until the cache is full, then the cache starts again (no LRU to keep up:
        callers and assertions renew within minutes anyway)."""
        if len(cache) >= self.CACHE_SIZE:
            cache.clear()
        cache[key] = value


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
    # this request's id, from the request context (the caller's X-Request-ID)
    return replace(identity, request_id=current_request_id())


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
