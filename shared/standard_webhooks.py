"""Standard Webhooks signatures: HMAC-SHA256 over ``id.timestamp.body``, ``v1,<base64>``.

One implementation for everything signed that way: the gateway's webhook deliveries and
inbound callbacks (gateway.events.signing), and a deployment telling a peer that a person it
sent has arrived (issue 21), which the peer's gateway verifies as an inbound callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


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


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
            "content-type": "application/json"}
