from __future__ import annotations

import os

import pytest

from shared.crypto import DecryptionError, Sealer


def test_seal_unseal_and_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = Sealer({"k1": old}, "k1")
    sealed = before.seal(b"violencia de genero", b"profiles.sensitive:123")
    assert b"violencia" not in sealed.encode()
    after = Sealer({"k1": old, "k2": new}, "k2")
    assert after.unseal(sealed, b"profiles.sensitive:123") == b"violencia de genero"
    assert after.key_id_of(after.seal(b"x")) == "k2"


def test_wrong_context_or_tampering_fails() -> None:
    s = Sealer({"k1": os.urandom(32)}, "k1")
    sealed = s.seal(b"secret", b"row-1")
    with pytest.raises(DecryptionError):
        s.unseal(sealed, b"row-2")
    with pytest.raises(DecryptionError):
        s.unseal(sealed[:-4] + "AAAA", b"row-1")
    with pytest.raises(DecryptionError):
        Sealer({"k9": os.urandom(32)}, "k9").unseal(sealed, b"row-1")
    with pytest.raises(DecryptionError):
        s.unseal("garbage", b"row-1")
