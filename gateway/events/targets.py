"""Where webhooks may be sent: the SSRF guard.

A URL is checked when a subscription is made and again before every send, without
resolving names; at connect time ``SafeResolver`` refuses a name that resolves to a
forbidden address, so DNS rebinding gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from shared.errors import ValidationFailed
from shared.i18n import Text
from shared.settings import Settings

_BAD_URL = Text("URL de destino no permitida ({reason})", "Target URL not allowed ({reason})")


def forbidden_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return forbidden_address(mapped)
        if ip.teredo:
            return True
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified or not ip.is_global)


def check_url(url: str, *, allow_private: bool) -> str | None:
    """Why a webhook URL is refused (None when acceptable), without resolving names."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "malformed"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "scheme"
    if parts.scheme != "https" and not allow_private:
        return "https required"
    if parts.username or parts.password:
        return "credentials in URL"
    host = parts.hostname
    if allow_private:
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return "address" if forbidden_address(ip) else None
    # Odd spellings of IPv4 (2130706433, 0x7f.1, 017700000001, 127.1): inet_aton reads them,
    # ipaddress does not; a name that is really a number is never legitimate here.
    try:
        socket.inet_aton(host)
        return "odd IP spelling"
    except OSError:
        pass
    if host.rstrip(".").lower() in ("localhost", "metadata.google.internal") \
            or host.endswith((".localhost", ".internal", ".local")):
        return "address"
    return None


def validate_target(url: str, settings: Settings) -> None:
    reason = check_url(url, allow_private=settings.allow_private_webhook_targets)
    if reason:
        raise ValidationFailed([("url", _BAD_URL)], reason=reason)


class SafeResolver(aiohttp.abc.AbstractResolver):
    """Resolves and refuses forbidden addresses at connect time (no DNS-rebinding window)."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        results = await self._inner.resolve(host, port, family)
        for r in results:
            if forbidden_address(ipaddress.ip_address(r["host"])):
                raise OSError(f"forbidden address for {host}")
        return results

    async def close(self) -> None:
        await self._inner.close()
