"""Access tokens: our own ES256 keys for machine clients, trusted OIDC issuers for people.

python-jose is used defensively: the algorithm list is fixed per key (ES256 for ours; the
JWK's own algorithm for an issuer's, never an HMAC one), every registered claim is required
(its ``require_*`` options default to off), the token size is bounded, and header fields that
point elsewhere (``jku``, ``x5u``, ``jwk``, ``x5c``) are never followed: keys come only from
our database or the configured JWKS URLs. Verified tokens are cached until they expire.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from jose import jwk, jwt
from jose.exceptions import JOSEError

from gateway.identity.keys import KeyStore
from shared.errors import Unauthenticated
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.jwks import RemoteJwks
from shared.oidc_issuers import IssuerEntry, parse_issuers
from shared.settings import Settings

log = structlog.get_logger("ruta.tokens")

MAX_TOKEN_BYTES = 8192
_OPTIONS = {
    "verify_signature": True, "verify_aud": True, "verify_iat": True, "verify_exp": True,
    "verify_nbf": True, "verify_iss": True, "verify_sub": True, "verify_jti": False,
    "verify_at_hash": False, "require_aud": True, "require_iat": True, "require_exp": True,
    "require_iss": True, "require_sub": True, "leeway": 30,
}
# Asymmetric algorithms only; an HMAC algorithm would turn a public key into a secret.
ALGORITHMS_BY_KTY = {"EC": {"ES256", "ES384", "ES512"}, "RSA": {"RS256", "RS384", "RS512",
                                                                 "PS256", "PS384", "PS512"}}

INVALID_TOKEN = Text("El token de acceso no es válido o expiró.",
                     "The access token is invalid or expired.")
MISSING_TOKEN = Text("Falta el token de acceso (cabecera Authorization: Bearer).",
                     "The access token is missing (Authorization: Bearer header).")


def _invalid() -> Unauthenticated:
    return Unauthenticated(INVALID_TOKEN)


# --- trusted identity providers ---------------------------------------------------------

@dataclass
class OIDCIssuer:
    """A trusted provider as configured (its bounds included) and its cached JWKS."""

    entry: IssuerEntry
    jwks: RemoteJwks

    @property
    def issuer(self) -> str:
        return self.entry.issuer

    @classmethod
    def parse_all(cls, settings: Settings) -> dict[str, OIDCIssuer]:
        """The providers by issuer; an unbounded one (development only) is logged."""
        out = {}
        for entry in parse_issuers(settings.oidc_issuers, production=settings.is_production):
            if not entry.bounded:
                log.warning("oidc_issuer_unbounded", entry=entry.index, issuer=entry.issuer,
                            note="set organisations and roles: production refuses this entry")
            out[entry.issuer] = cls(entry, RemoteJwks(entry.jwks_url, entry.issuer))
        return out

    async def key(self, kid: str, http: httpx.AsyncClient) -> dict[str, Any] | None:
        return await self.jwks.key(kid, http)


# --- verification ---------------------------------------------------------------------------

class TokenVerifier:
    def __init__(self, settings: Settings, keys: KeyStore, cache_size: int = 10_000) -> None:
        self._settings = settings
        self._keys = keys
        self._issuers = OIDCIssuer.parse_all(settings)
        self._cache: OrderedDict[str, tuple[Identity, float]] = OrderedDict()
        self._cache_size = cache_size
        self._http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)

    async def close(self) -> None:
        await self._http.aclose()

    def forget_client(self, client_id: str) -> None:
        self._keys.note_disabled(client_id)
        for token, (identity, _) in list(self._cache.items()):
            if identity.subject == client_id and identity.kind == "client":
                self._cache.pop(token, None)

    async def verify_header(self, authorization: bytes | str | None) -> Identity:
        if not authorization:
            raise Unauthenticated(MISSING_TOKEN)
        value = authorization.decode("latin-1") if isinstance(authorization, bytes) \
            else authorization
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(MISSING_TOKEN)
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Identity:
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            identity, exp = cached
            if exp > now and not (identity.kind == "client"
                                  and self._keys.is_disabled(identity.subject)):
                return identity
            self._cache.pop(token, None)
            raise _invalid()
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise _invalid()
        await self._keys.maybe_refresh()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.get_unverified_claims(token)
        except (JOSEError, ValueError, TypeError):
            raise _invalid() from None
        kid = header.get("kid")
        if not isinstance(kid, str) or len(kid) > 128 or header.get("crit") is not None:
            raise _invalid()
        issuer = unverified.get("iss")
        if issuer == self._settings.jwt_issuer:
            identity, exp = await self._verify_ours(token, header, kid)
        elif isinstance(issuer, str) and issuer in self._issuers:
            identity, exp = await self._verify_oidc(token, header, kid, self._issuers[issuer])
        else:
            raise _invalid()
        self._cache[token] = (identity, exp)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return identity

    async def _verify_ours(self, token: str, header: dict[str, Any], kid: str
                           ) -> tuple[Identity, float]:
        if header.get("alg") != "ES256":
            raise _invalid()
        public = self._keys.public(kid)
        if public is None:
            await self._keys.refresh()
            public = self._keys.public(kid)
        if public is None:
            raise _invalid()
        claims = self._decode(token, public, ["ES256"], self._settings.jwt_audience,
                              self._settings.jwt_issuer)
        try:
            kind = str(claims.get("kind", "client"))
            identity = Identity(
                subject=str(claims["sub"]), role=Role(claims["role"]),
                organisation_id=claims.get("org"),
                regions=frozenset(claims.get("regions") or ()),
                permissions=frozenset(claims.get("permissions") or ()), kind=kind,
                # a machine client is held to its scopes; a person to their role
                scopes=frozenset(str(claims.get("scope", "")).split()) if kind == "client"
                else None,
            )
        except (KeyError, ValueError, TypeError):
            raise _invalid() from None
        if identity.role is Role.SYSTEM or (identity.kind == "client"
                                            and self._keys.is_disabled(identity.subject)):
            raise _invalid()
        return identity, float(claims["exp"])

    async def _verify_oidc(self, token: str, header: dict[str, Any], kid: str,
                           issuer: OIDCIssuer) -> tuple[Identity, float]:
        key = await issuer.key(kid, self._http)
        if key is None:
            raise _invalid()
        allowed = ALGORITHMS_BY_KTY.get(str(key.get("kty")), set())
        if key.get("alg"):
            allowed = allowed & {str(key["alg"])}
        alg = header.get("alg")
        if alg not in allowed:
            raise _invalid()
        entry = issuer.entry
        claims = self._decode(token, key, [str(alg)], entry.audience, entry.issuer)
        try:
            role = Role(claims[entry.role_claim])
            regions = claims.get(entry.regions_claim) or []
            if isinstance(regions, str):
                regions = regions.split()
            permissions: list[str] = []
            if entry.permissions_claim:
                raw = claims.get(entry.permissions_claim) or []
                permissions = raw.split() if isinstance(raw, str) else list(raw)
            org = claims.get(entry.organisation_claim)
            identity = Identity(
                subject=f"{entry.issuer}#{claims['sub']}", role=role,
                organisation_id=str(org) if org is not None else None,
                regions=frozenset(str(r) for r in regions),
                permissions=frozenset(str(p) for p in permissions), kind="user",
            )
        except (KeyError, ValueError, TypeError):
            raise _invalid() from None
        if not entry.allows(identity.role, identity.organisation_id):
            # which provider overreached, for the operator; nothing of the person or token
            log.warning("oidc_token_outside_bounds", entry=entry.index, issuer=entry.issuer)
            raise _invalid()
        return identity, float(claims["exp"])

    @staticmethod
    def _decode(token: str, key: dict[str, Any], algorithms: list[str], audience: str,
                issuer: str) -> dict[str, Any]:
        try:
            public = jwk.construct(key, algorithm=algorithms[0])
            claims: dict[str, Any] = jwt.decode(token, public, algorithms=algorithms,
                                                audience=audience, issuer=issuer,
                                                options=_OPTIONS)
        except (JOSEError, ValueError, TypeError, KeyError):
            raise _invalid() from None
        return claims
