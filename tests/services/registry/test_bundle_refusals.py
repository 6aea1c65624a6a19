"""Issue 21, item 4: what a bundle must be to open, checked without a server. Each refusal
names its reason; only the destination's key opens a bundle; the peers' settings are checked
at start-up, naming the entry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.registry.portability import bundle
from services.registry.portability.keys import ENC, SIG, new_key
from shared.crypto import Sealer
from shared.peer_deployments import PeerProblems, parse_peers
from shared.settings import Settings

SEALER = Sealer.from_settings(Settings())
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _pair(use: str) -> tuple[dict[str, Any], str]:
    row = new_key(SEALER, use)
    return dict(row.public_jwk), SEALER.unseal(row.private_key,
                                               f"deployment_keys:{row.kid}".encode()).decode()


SIGN, ENCRYPT, OTHER_SIGN = _pair(SIG), _pair(ENC), _pair(SIG)


def _bundle(*, audience: str = "ruta-ec", issued: datetime = NOW,
            signer: tuple[dict[str, Any], str] = SIGN) -> str:
    claims = bundle.presentation(
        bundle_id="b-1", issuer="https://pe.example", audience=audience, issued_at=issued,
        profile={"given_names": "Ana"}, credentials=["h.p.s"], route={"completed": []},
        origin_profile_id="p-1", legal_basis={"basis": "consent"})
    return bundle.seal(claims, sig_kid=signer[0]["kid"], sig_pem=signer[1],
                       destination_key=ENCRYPT[0])


def _open(token: str, *, public: dict[str, Any] = SIGN[0], now: datetime = NOW
          ) -> dict[str, Any]:
    assert bundle.encryption_kid(token) == ENCRYPT[0]["kid"]
    signed = bundle.unverified(bundle.decrypt(token, ENCRYPT[1]))
    return bundle.verify(signed, public, audience="ruta-ec", now=now)


def test_a_sound_bundle_opens_with_its_credentials() -> None:
    claims = _open(_bundle())
    assert claims["jti"] == "b-1" and "VerifiablePresentation" in claims["type"]
    assert bundle.enveloped_credentials(claims) == ["h.p.s"]
    assert claims["exp"] - claims["iat"] == 30 * 86400


@pytest.mark.parametrize(("case", "reason"), [
    ("expired", bundle.Reason.EXPIRED),
    ("other audience", bundle.Reason.NOT_FOR_US),
    ("signed by another key", bundle.Reason.BAD_SIGNATURE),
    ("tampered tag", bundle.Reason.UNDECRYPTABLE),
    ("not a JWE", bundle.Reason.MALFORMED),
])
def test_each_refusal_names_its_reason(case: str, reason: bundle.Reason) -> None:
    with pytest.raises(bundle.Refused) as refused:
        if case == "expired":
            _open(_bundle(), now=NOW + timedelta(days=31))
        elif case == "other audience":
            _open(_bundle(audience="ruta-co"))
        elif case == "signed by another key":
            _open(_bundle(signer=OTHER_SIGN))
        elif case == "tampered tag":
            parts = _bundle().split(".")
            parts[4] = ("A" if parts[4][0] != "A" else "B") + parts[4][1:]
            _open(".".join(parts))
        else:
            _open("eyJhbGciOiJub25lIn0.e30.")
    assert refused.value.reason is reason


def _unpadded(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_the_file_says_nothing_of_the_person() -> None:
    """Read as bytes, not as text: the ciphertext's base64 is random and can spell "p-1" by
    chance (it did, once, in CI); the quoted JSON values cannot appear by chance."""
    token = _bundle()
    parts = token.split(".")
    assert len(parts) == 5, "a JWE in compact form"
    header = json.loads(_unpadded(parts[0]))
    assert set(header) <= {"alg", "enc", "kid", "cty", "typ", "epk", "zip"}
    readable = b"".join(_unpadded(part) for part in parts)
    inside = _unpadded(bundle.decrypt(token, ENCRYPT[1]).split(".")[1])
    for said in (b'"Ana"', b'"p-1"'):
        assert said in inside, "the check must be able to fail: the content holds it"
        assert said not in readable


def test_peer_settings_name_each_bad_entry() -> None:
    with pytest.raises(PeerProblems) as bad:
        parse_peers('[{"id": "ruta-ec", "country": "EC", "issuer": "https://ec.example", '
                    '"jwks_url": "https://ec.example/v1/transfers/jwks.json"}, '
                    '{"id": "ruta-ec", "country": "Ecuador", "issuer": "ftp://x"}]')
    assert bad.value.problems == [
        "RUTA_PEER_DEPLOYMENTS[1]: id already listed",
        "RUTA_PEER_DEPLOYMENTS[1]: country must be an ISO 3166-1 alpha-2 code",
        "RUTA_PEER_DEPLOYMENTS[1]: issuer and jwks_url must be http(s) URLs"]
    with pytest.raises(ValueError, match="RUTA_PEER_DEPLOYMENTS"):
        Settings(peer_deployments='{"not": "a list"}')
