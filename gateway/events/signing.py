"""Standard Webhooks signatures (HMAC-SHA256 over ``id.timestamp.body``) and the sealing
of the secrets they use: both webhook subscriptions (outbound) and inbound sources share them.

Secrets are stored sealed with the data keys, bound to what they belong to, so a sealed
secret copied onto another row does not unseal.
"""

from __future__ import annotations

import base64
import secrets

from shared.crypto import Sealer
from shared.standard_webhooks import sign, verify

__all__ = [
    "new_secret",
    "seal_source_secret",
    "seal_subscription_secret",
    "sign",
    "unseal_source_secret",
    "unseal_subscription_secret",
    "verify",
]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def seal_subscription_secret(sealer: Sealer, sub_id: str, secret: str) -> str:
    return sealer.seal(secret.encode(), f"webhook:{sub_id}".encode())


def unseal_subscription_secret(sealer: Sealer, sub_id: str, sealed: str) -> str:
    return sealer.unseal(sealed, f"webhook:{sub_id}".encode()).decode()


def seal_source_secret(sealer: Sealer, source_id: str, secret: str) -> str:
    return sealer.seal(secret.encode(), f"inbound:{source_id}".encode())


def unseal_source_secret(sealer: Sealer, source_id: str, sealed: str) -> str:
    return sealer.unseal(sealed, f"inbound:{source_id}".encode()).decode()
