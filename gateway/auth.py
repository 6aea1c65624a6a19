"""Bearer token verification at the front door.

python-jose used defensively: one explicit algorithm per key, every registered claim required
(its ``require_*`` options default to off), bounded token size, header fields such as
``jku``/``x5u`` never followed. Verified tokens are cached until they expire, so a busy
client pays for the signature check once per token, not once per request.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from jose import jwt
from jose.exceptions import JOSEError

from shared.errors import Unauthenticated
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.settings import Settings

MAX_TOKEN_BYTES = 8192
_REQUIRED = {
    "verify_signature": True, "verify_aud": True, "verify_iat": True, "verify_exp": True,
    "verify_nbf": True, "verify_iss": True, "verify_sub": True, "verify_jti": False,
    "require_aud": True, "require_iat": True, "require_exp": True, "require_iss": True,
    "require_sub": True, "leeway": 30,
}

INVALID_TOKEN = Text("El token de acceso no es válido o expiró.",
                     "The access token is invalid or expired.")
MISSING_TOKEN = Text("Falta el token de acceso (cabecera Authorization: Bearer).",
                     "The access token is missing (Authorization: Bearer header).")


class TokenVerifier:
    def __init__(self, settings: Settings, cache_size: int = 10_000) -> None:
        self._secret = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._cache: OrderedDict[str, tuple[Identity, float]] = OrderedDict()
        self._cache_size = cache_size

    def verify_header(self, authorization: bytes | str | None) -> Identity:
        if not authorization:
            raise Unauthenticated(MISSING_TOKEN)
        value = authorization.decode("latin-1") if isinstance(authorization, bytes) \
            else authorization
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(MISSING_TOKEN)
        return self.verify(token.strip())

    def verify(self, token: str) -> Identity:
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            if cached[1] > now:
                return cached[0]
            self._cache.pop(token, None)
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated(INVALID_TOKEN)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "HS256":
                raise Unauthenticated(INVALID_TOKEN)
            claims = jwt.decode(token, self._secret, algorithms=["HS256"],
                                audience=self._audience, issuer=self._issuer, options=_REQUIRED)
            identity = Identity(
                subject=str(claims["sub"]), role=Role(claims["role"]),
                organisation_id=claims.get("org"),
                regions=frozenset(claims.get("regions") or ()),
                permissions=frozenset(claims.get("permissions") or ()),
                kind=str(claims.get("kind", "client")),
            )
        except (JOSEError, KeyError, ValueError, TypeError):
            raise Unauthenticated(INVALID_TOKEN) from None
        self._cache[token] = (identity, float(claims["exp"]))
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return identity


def mint_token(
    settings: Settings, *, subject: str, role: Role, organisation_id: str | None,
    regions: list[str] | None = None, permissions: list[str] | None = None,
    kind: str = "client", ttl: int | None = None,
) -> str:
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": subject,
        "iat": now, "exp": now + (ttl or settings.access_token_ttl_seconds),
        "role": role.value, "org": organisation_id, "regions": regions or [],
        "permissions": permissions or [], "kind": kind,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
