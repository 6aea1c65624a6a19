"""W3C Bitstring Status List v1.0: the compressed bitstring and its status list credential.

Index 0 is the left-most bit of the first byte. The list is GZIP-compressed and encoded as
Multibase base64url without padding (prefix ``u``). Lists have 131,072 entries, the minimum
the specification sets for group privacy, and indexes are handed out at random.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.clock import as_utc

LIST_SIZE = 131_072
# Open a new list once this share of a list is taken, so random allocation stays cheap.
FILL_LIMIT = LIST_SIZE // 2


class Purpose(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


def encode(positions: Iterable[int], size: int = LIST_SIZE) -> str:
    bits = bytearray(size // 8)
    for p in positions:
        if 0 <= p < size:
            bits[p // 8] |= 0x80 >> (p % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url ('u' prefix)")
    raw = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def is_set(bits: bytes, position: int) -> bool:
    return bool(bits[position // 8] & (0x80 >> (position % 8)))


def status_list_credential(
    *, url: str, issuer: str, purpose: Purpose, encoded: str, valid_from: str,
) -> dict[str, Any]:
    """The unsecured BitstringStatusListCredential published at ``url``."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose.value,
            "encodedList": encoded,
            "ttl": 60_000,
        },
    }


def xml_datetime(value: datetime) -> str:
    """XML Schema dateTimeStamp in UTC, second precision: ``2026-03-01T12:00:00Z``."""
    return as_utc(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
