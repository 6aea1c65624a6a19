from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from pydantic import ValidationError

from shared.errors import Unauthenticated
from shared.i18n import negotiate
from shared.identity import AssertionSigner, Identity, Role
from shared.settings import Settings

ALICE = Identity(subject="alice", role=Role.CASEWORKER, organisation_id="ong-lima",
                 regions=frozenset({"PE-LMA"}), permissions=frozenset({"sensitive:read"}))


def test_assertion_round_trip() -> None:
    signer = AssertionSigner("s" * 40)
    assert signer.verify(signer.sign(ALICE)) == ALICE


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-3] + (b"AAA" if t[-3:] != b"AAA" else b"BBB"),   # forged MAC
    lambda t: t.replace(b"v1.", b"v2.", 1),                          # unknown version
    lambda t: b"v1." + t.split(b".")[1],                             # no MAC
    lambda t: b"",                                                   # empty
    lambda t: t + b"x" * 9000,                                       # oversized
])
def test_tampered_assertions_are_refused(mutate: object) -> None:
    signer = AssertionSigner("s" * 40)
    with pytest.raises(Unauthenticated):
        signer.verify(mutate(signer.sign(ALICE)))  # type: ignore[operator]


def test_expired_and_foreign_assertions_are_refused() -> None:
    signer = AssertionSigner("s" * 40, ttl_seconds=60)
    token = signer.sign(ALICE, now=1_000_000)
    with pytest.raises(Unauthenticated):
        signer.verify(token, now=1_000_061)
    with pytest.raises(Unauthenticated):
        AssertionSigner("t" * 40).verify(signer.sign(ALICE))


def test_a_callers_assertion_is_signed_once_without_the_request_id_and_renewed_at_half_life(
        monkeypatch: pytest.MonkeyPatch) -> None:
    signer = AssertionSigner("s" * 40, ttl_seconds=60)
    clock = [1_000_000.0]
    monkeypatch.setattr("shared.identity.time.time", lambda: clock[0])
    first = signer.sign(replace(ALICE, request_id="req-1"))
    assert signer.sign(replace(ALICE, request_id="req-2")) == first  # the same caller
    assert b"req-1" not in base64.urlsafe_b64decode(first.split(b".")[1] + b"==")
    assert signer.verify(first).request_id is None  # the service's context gives it
    clock[0] += 29
    assert signer.sign(ALICE) == first
    clock[0] += 2  # past half of its lifetime: a new one, valid for a whole ttl again
    renewed = signer.sign(ALICE)
    assert renewed != first
    clock[0] += 59
    assert signer.verify(renewed) == ALICE
    with pytest.raises(Unauthenticated):
        signer.verify(first)  # remembered as checked, but expired


def test_a_checked_assertion_is_remembered_byte_for_byte_only() -> None:
    signer = AssertionSigner("s" * 40, ttl_seconds=60)
    token = signer.sign(ALICE, now=1_000_000)
    assert signer.verify(token, now=1_000_001) == ALICE
    forged = token[:-3] + (b"AAA" if token[-3:] != b"AAA" else b"BBB")
    with pytest.raises(Unauthenticated):
        signer.verify(forged, now=1_000_001)
    with pytest.raises(Unauthenticated):
        signer.verify(token, now=1_000_061)  # the remembered one expires too


def test_production_refuses_default_or_missing_secrets() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(env="production")
    text = str(err.value)
    assert "RUTA_INTERNAL_SECRET" in text and "RUTA_DATA_KEYS" in text
    pg = "postgresql+asyncpg://u@db/x"
    keys = '{"k1": "' + "A" * 43 + '="}'
    ok = Settings(env="production", internal_secret="i" * 40,
                  cursor_secret="c" * 40, registry_database_url=pg, data_keys=keys,
                  data_active_key="k1", public_base_url="https://ruta.example.org")
    assert ok.is_production
    assert ok.database_url("registry") == pg
    with pytest.raises(ValueError, match="RUTA_GATEWAY_DATABASE_URL"):
        ok.database_url("gateway")  # a process refuses to open an unconfigured database
    with pytest.raises(ValidationError):
        Settings(env="production", internal_secret="i" * 40,
                 cursor_secret="c" * 40, data_keys=keys, data_active_key="k1",
                 allow_private_webhook_targets=True)


@pytest.mark.parametrize("url", ["https://registry:8443", "registry:8000", "http://",
                                 "http://registry:notaport", "http://u:p@registry:8000",
                                 "http://registry:8000/?x=1"])
def test_a_services_url_must_be_plain_http(url: str) -> None:
    """The gateway and the peers speak plain HTTP/1.1 to the services (shared.http1): any
    other base URL is refused when the process starts, with the variable named, never
    found at the first request."""
    with pytest.raises(ValidationError, match="RUTA_REGISTRY_URL must be http://"):
        Settings(registry_url=url)
    assert Settings(registry_url="http://registry:8000").upstream_url("registry") == \
        "http://registry:8000"
    assert Settings(referrals_url="http://10.0.0.7/ruta/").upstream_url("referrals") == \
        "http://10.0.0.7/ruta"


def test_settings_honour_the_operator_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUTA_HOST", "0.0.0.0")
    monkeypatch.setenv("RUTA_PORT", "9001")
    s = Settings()
    assert (s.host, s.port, s.env) == ("0.0.0.0", 9001, "development")
    assert s.database_url("registry").startswith("sqlite+aiosqlite:///")
    monkeypatch.setenv("RUTA_PORT", "not-a-port")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(("header", "lang"), [
    (None, "es"), ("en", "en"), ("en-GB,en;q=0.9", "en"), ("es-PE,es;q=0.9,en;q=0.8", "es"),
    ("fr-FR, en;q=0.5", "en"), ("de", "es"), ("en;q=0.2, es;q=0.9", "es"), ("en;q=bad", "es"),
])
def test_language_negotiation(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang
