"""Encryption at rest with rotating keys: AES-256-GCM, the key id stored with the ciphertext.

``seal`` always uses the active key; ``unseal`` reads any configured key, so keys rotate
without re-encrypting everything at once. The associated data binds a ciphertext to where it
belongs (e.g. a column and row id): a ciphertext copied to another row does not decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import Settings

_VERSION = "v1"


class DecryptionError(Exception):
    pass


class Sealer:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError("active key not among the keys")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        return cls(settings.data_key_map(), settings.data_active_key)

    def seal(self, plaintext: bytes, associated: bytes = b"") -> str:
        nonce = os.urandom(12)
        ct = self._keys[self._active].encrypt(nonce, plaintext, associated)
        blob = base64.urlsafe_b64encode(nonce + ct).decode()
        return f"{_VERSION}:{self._active}:{blob}"

    def unseal(self, sealed: str, associated: bytes = b"") -> bytes:
        try:
            version, kid, blob = sealed.split(":", 2)
            raw = base64.urlsafe_b64decode(blob)
            if version != _VERSION or kid not in self._keys:
                raise DecryptionError("unknown key or format")
            return self._keys[kid].decrypt(raw[:12], raw[12:], associated)
        except (ValueError, InvalidTag) as exc:
            raise DecryptionError("cannot decrypt") from exc

    def key_id_of(self, sealed: str) -> str:
        return sealed.split(":", 2)[1]
