"""Encryption of sensitive data (services/registry/crypto.py)."""

from __future__ import annotations

import pytest

from services.registry.crypto import SensitiveCipher, SensitiveDataCorrupt, SensitiveKeyUnavailable

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_cipher_round_trip_binds_the_profile_and_records_the_key() -> None:
    cipher = SensitiveCipher({"a": KEY_A}, "a")
    key_id, blob = cipher.encrypt("p-1", {"gender_based_violence": True})
    assert key_id == "a"
    assert b"gender" not in blob
    assert cipher.decrypt("p-1", key_id, blob) == {"gender_based_violence": True}
    with pytest.raises(SensitiveDataCorrupt):
        cipher.decrypt("p-2", key_id, blob)  # copied to another person's row
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SensitiveDataCorrupt):
        cipher.decrypt("p-1", key_id, tampered)


def test_cipher_rotation_reads_old_keys_writes_the_active_one() -> None:
    old = SensitiveCipher({"a": KEY_A}, "a")
    _, blob = old.encrypt("p-1", {"notes": "x"})
    rotated = SensitiveCipher({"a": KEY_A, "b": KEY_B}, "b")
    assert rotated.decrypt("p-1", "a", blob) == {"notes": "x"}
    assert rotated.encrypt("p-1", {"notes": "x"})[0] == "b"
    with pytest.raises(SensitiveKeyUnavailable):
        SensitiveCipher({"b": KEY_B}, "b").decrypt("p-1", "a", blob)
