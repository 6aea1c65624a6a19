"""JWT attacks at the front door: each must be a 401, and none may make the gateway fetch
anything from a URL the token names."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from gateway.identity.keys import KeyStore
from shared.settings import Settings
from tests.support.json_server import serve_json


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    s = Settings()
    now = int(time.time())
    base: dict[str, Any] = {"iss": s.jwt_issuer, "aud": s.jwt_audience, "sub": "attacker",
                            "iat": now, "nbf": now, "exp": now + 600, "role": "caseworker",
                            "org": "ong-lima", "regions": ["PE-LMA"], "kind": "user"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign_ours(keys: KeyStore, payload: dict[str, Any], **headers: Any) -> str:
    key = keys.active()
    assert key.private_pem is not None
    return jwt.encode(payload, key.private_pem, algorithm="ES256",
                      headers={"kid": key.kid, **headers})


def foreign_pem() -> str:
    k = ec.generate_private_key(ec.SECP256R1())
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).decode()


@pytest.fixture
def jku_server() -> Iterator[tuple[str, list[str]]]:
    """A server an attacker would point ``jku`` at; it records every request it gets."""
    with serve_json(lambda: {"keys": []}) as (base, hits):
        yield f"{base}/jwks.json", hits


async def test_a_well_formed_token_works(client: httpx.AsyncClient, token_keys: KeyStore
                                         ) -> None:
    token = sign_ours(token_keys, claims())
    resp = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert resp.json()["role"] == "caseworker"


def _attacks(keys: KeyStore, jku_url: str) -> dict[str, str]:
    good = sign_ours(keys, claims())
    header, payload, signature = good.split(".")
    public_jwk = keys.public(keys.active().kid)
    assert public_jwk is not None
    public_pem_like = json.dumps(public_jwk).encode()

    def hs256_with(secret: bytes) -> str:
        h = b64(json.dumps({"alg": "HS256", "kid": keys.active().kid, "typ": "JWT"}).encode())
        p = b64(json.dumps(claims()).encode())
        mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
        return f"{h}.{p}.{b64(mac)}"

    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["role"] = "admin"
    big = sign_ours(keys, claims(padding="x" * 9000))
    return {
        "alg none": b64(json.dumps({"alg": "none", "kid": keys.active().kid}).encode())
        + "." + payload + ".",
        "alg none, no signature part": b64(json.dumps({"alg": "none"}).encode()) + "." + payload,
        "HS256 with the public JWK as secret": hs256_with(public_pem_like),
        "HS256 with the x coordinate as secret": hs256_with(public_jwk["x"].encode()),
        "unknown kid": jwt.encode(claims(), foreign_pem(), algorithm="ES256",
                                  headers={"kid": "k-does-not-exist"}),
        "kid path traversal": jwt.encode(claims(), foreign_pem(), algorithm="ES256",
                                         headers={"kid": "../../../../etc/passwd"}),
        "our kid, another key": jwt.encode(claims(), foreign_pem(), algorithm="ES256",
                                           headers={"kid": keys.active().kid}),
        "jku pointing elsewhere": jwt.encode(claims(), foreign_pem(), algorithm="ES256",
                                             headers={"kid": "attacker", "jku": jku_url}),
        "x5u pointing elsewhere": jwt.encode(claims(), foreign_pem(), algorithm="ES256",
                                             headers={"kid": "attacker", "x5u": jku_url}),
        "expired": sign_ours(keys, claims(exp=int(time.time()) - 3600,
                                          iat=int(time.time()) - 7200)),
        "nbf in the future": sign_ours(keys, claims(nbf=int(time.time()) + 3600)),
        "wrong aud": sign_ours(keys, claims(aud="another-api")),
        "wrong iss": sign_ours(keys, claims(iss="https://evil.example")),
        "missing exp": sign_ours(keys, claims(exp=None)),
        "missing aud": sign_ours(keys, claims(aud=None)),
        "missing iss": sign_ours(keys, claims(iss=None)),
        "missing sub": sign_ours(keys, claims(sub=None)),
        "missing iat": sign_ours(keys, claims(iat=None)),
        "tampered payload": header + "." + b64(json.dumps(tampered).encode()) + "." + signature,
        "oversized": big,
        "system role": sign_ours(keys, claims(role="system")),
        "unknown role": sign_ours(keys, claims(role="superuser")),
        "garbage": "not-a-jwt",
        "empty segments": "..",
    }




@pytest.mark.parametrize("name", [
    "alg none", "alg none, no signature part", "HS256 with the public JWK as secret",
    "HS256 with the x coordinate as secret", "unknown kid", "kid path traversal",
    "our kid, another key", "jku pointing elsewhere", "x5u pointing elsewhere", "expired",
    "nbf in the future", "wrong aud", "wrong iss", "missing exp", "missing aud",
    "missing iss", "missing sub", "missing iat", "tampered payload", "oversized",
    "system role", "unknown role", "garbage", "empty segments",
])
async def test_attack_is_401(name: str, client: httpx.AsyncClient, token_keys: KeyStore,
                             jku_server: tuple[str, list[str]]) -> None:
    url, hits = jku_server
    token = _attacks(token_keys, url)[name]
    resp = await client.get("/v1/profiles", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, (name, resp.text)
    assert resp.headers["content-type"] == "application/problem+json"
    assert hits == [], "the gateway must never fetch a key from a URL a token names"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "bearer  ", "Token abc"])
@pytest.mark.invalid_request
async def test_malformed_authorization_is_401(header: str, client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/profiles", headers={"Authorization": header})
    assert resp.status_code == 401
