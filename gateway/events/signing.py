"""Standard Webhooks signatures (HMAC-SHA256 over ``id.timestamp.body``) and the sealing
of the secrets they use: both webhook subscriptions (outbound) and inbound sources share them.

Secrets are stored sealed with the data keys, bound to what they belong to, so a sealed
secret copied onto another row does not unseal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from shared.crypto import Sealer


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secrets_: list[str], msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    expected = {sign(s, msg_id, ts, body) for s in secrets_}
    return any(hmac.compare_digest(sig, e) for sig in header.split() for e in expected)


def seal_subscription_secret(sealer: Sealer, sub_id: str, secret: str) -> str:
    return sealer.seal(secret.encode(), f"webhook:{sub_id}".encode())


def unseal_subscription_secret(sealer: Sealer, sub_id: str, sealed: str) -> str:
    return sealer.unseal(sealed, f"webhook:{sub_id}".encode()).decode()


def seal_source_secret(sealer: Sealer, source_id: str, secret: str) -> str:
    return sealer.seal(secret.encode(), f"inbound:{source_id}".encode())


def unseal_source_secret(sealer: Sealer, source_id: str, sealed: str) -> str:
    return sealer.unseal(sealed, f"inbound:{source_id}".encode()).decode()
