"""Which service answers which public path: a table of path patterns, not only prefixes.

Order matters: the first pattern that matches wins, so specific patterns
(``/v1/profiles/{id}/recommendations`` belongs to referrals) come before general ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str
    upstream: str
    public: bool = False  # no bearer token: the service authenticates (or needs nothing)
    regex: re.Pattern[str] | None = None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    out = "^"
    for part in re.split(r"(\{[^}]+\})", pattern):
        if part.startswith("{"):
            out += ".+" if part.endswith(":path}") else "[^/]+"
        else:
            out += re.escape(part)
    return re.compile(out + "$")


# (pattern, owner, public). Owner "gateway" means the gateway's own routes; public paths carry
# no bearer token (they authenticate otherwise, or need nothing).
ROUTE_TABLE: tuple[tuple[str, str, bool], ...] = (
    ("/v1/profiles/{id}/recommendations", "referrals", False),
    ("/v1/profiles/{id}/vacancy-matches", "referrals", False),
    ("/v1/profiles", "registry", False),
    ("/v1/profiles/{rest:path}", "registry", False),
    ("/v1/worklist", "registry", False),
    ("/v1/worklist/{rest:path}", "registry", False),
    ("/v1/programs", "referrals", False),
    ("/v1/programs/{rest:path}", "referrals", False),
    ("/v1/providers", "referrals", False),
    ("/v1/providers/{rest:path}", "referrals", False),
    ("/v1/referrals", "referrals", False),
    ("/v1/referrals/{rest:path}", "referrals", False),
    ("/v1/pathways", "referrals", False),
    ("/v1/pathways/{rest:path}", "referrals", False),
    ("/v1/credentials/verify", "credentials", True),
    ("/v1/credentials/issuer/{rest:path}", "credentials", True),
    ("/v1/credentials", "credentials", False),
    ("/v1/credentials/{rest:path}", "credentials", False),
    ("/v1/reports/{rest:path}", "referrals", False),
    ("/v1/transfers/deployment", "registry", True),
    ("/v1/transfers/jwks.json", "registry", True),
    ("/v1/transfers/{rest:path}", "registry", False),
    ("/v1/vacancies", "referrals", False),
    ("/v1/vacancies/{rest:path}", "referrals", False),
    ("/v1/me", "gateway", False),
    ("/v1/events", "gateway", False),
    ("/v1/event-types", "gateway", False),
    ("/v1/webhook-subscriptions", "gateway", False),
    ("/v1/webhook-subscriptions/{rest:path}", "gateway", False),
    ("/v1/organisations", "gateway", False),
    ("/v1/organisations/{rest:path}", "gateway", False),
    ("/v1/clients", "gateway", False),
    ("/v1/clients/{rest:path}", "gateway", False),
    ("/v1/inbound-sources", "gateway", False),
    ("/v1/inbound-sources/{rest:path}", "gateway", False),
    ("/v1/inbound/{source}", "gateway", True),
)


class RouteTable:
    def __init__(self, table: tuple[tuple[str, str, bool], ...] = ROUTE_TABLE) -> None:
        self._by_prefix: dict[str, list[Route]] = {}
        for pattern, upstream, public in table:
            prefix = pattern.split("/")[2] if pattern.count("/") >= 2 else pattern
            self._by_prefix.setdefault(prefix, []).append(
                Route(pattern, upstream, public, compile_pattern(pattern)))

    def match(self, path: str) -> Route | None:
        parts = path.split("/", 3)
        if len(parts) < 3 or parts[1] != "v1":
            return None
        for route in self._by_prefix.get(parts[2], ()):
            assert route.regex is not None
            if route.regex.match(path):
                return route
        return None

    @property
    def upstream_names(self) -> set[str]:
        return {r.upstream for routes in self._by_prefix.values() for r in routes}
