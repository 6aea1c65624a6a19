"""Sensitive data at rest: AES-256-GCM with rotating keys.

Each profile's sensitive record (gender-based violence, health, disability, protection needs)
is one JSON document encrypted with the active key of ``RUTA_DATA_KEYS``; the key id is stored
next to the ciphertext so older keys keep decrypting after a rotation (``ruta
reencrypt-sensitive`` moves everything to the active key). The profile id is bound as
associated data: a ciphertext copied onto another person's row does not decrypt.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import AppError
from shared.i18n import Text
from shared.settings import Settings

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12


class SensitiveKeyUnavailable(AppError):
    status = 503
    code = "sensitive-key-unavailable"
    detail_text = Text("La clave de cifrado de estos datos sensibles no está configurada.",
                       "The encryption key of this sensitive data is not configured.")


class SensitiveDataCorrupt(AppError):
    status = 500
    code = "sensitive-data-unreadable"
    detail_text = Text("Los datos sensibles no se pudieron descifrar.",
                       "The sensitive data could not be decrypted.")


def _aad(profile_id: str) -> bytes:
    return b"ruta/registry/sensitive/v1\0" + profile_id.encode()


class SensitiveCipher:
    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError("the active key must be one of the keys")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_key_id = active_key_id

    @classmethod
    def from_settings(cls, settings: Settings) -> SensitiveCipher:
        return cls(settings.data_key_map(), settings.data_active_key)

    def encrypt(self, profile_id: str, data: dict[str, Any]) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.active_key_id].encrypt(nonce, orjson.dumps(data),
                                                         _aad(profile_id))
        return self.active_key_id, FORMAT_V1 + nonce + sealed

    def decrypt(self, profile_id: str, key_id: str, blob: bytes) -> dict[str, Any]:
        aead = self._aead.get(key_id)
        if aead is None:
            raise SensitiveKeyUnavailable()
        blob = bytes(blob)
        if blob[:1] != FORMAT_V1 or len(blob) < 1 + NONCE_BYTES + 16:
            raise SensitiveDataCorrupt()
        nonce, sealed = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
        try:
            plain = aead.decrypt(nonce, sealed, _aad(profile_id))
        except InvalidTag:
            raise SensitiveDataCorrupt() from None
        data: dict[str, Any] = orjson.loads(plain)
        return data
