"""Route-level authorisation: which roles (and, for machine clients, which OAuth scopes) may
call which operation. Deny by default: an operation missing here is a 403 for everybody.

Object-level checks (organisation, region, consent → 404) live in each service; this table
only says whether the role may attempt the operation at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.edge.routing import compile_pattern
from shared.identity import Identity, Role

CW, CO, NGO = Role.CASEWORKER, Role.COORDINATOR, Role.NGO_PARTNER
PR, MS, AD = Role.PROVIDER, Role.MINISTRY_SYSTEM, Role.ADMIN
CASELOAD = frozenset({CW, CO, NGO})
EVERYONE = frozenset({CW, CO, NGO, PR, MS, AD})
INTEGRATORS = frozenset({NGO, PR, MS, AD})

READ = frozenset({"GET", "HEAD"})
WRITE = frozenset({"POST", "PATCH", "PUT", "DELETE"})
ANY = READ | WRITE

# Scopes a machine client may hold, by role (a client gets these unless narrowed).
SCOPES_BY_ROLE: dict[Role, frozenset[str]] = {
    NGO: frozenset({"profiles:read", "profiles:write", "referrals:read", "referrals:write",
                    "credentials:read", "credentials:write", "events:read", "webhooks:manage",
                    "vacancies:read"}),
    # credentials:write for providers, ministries and admins opens only the transitions route,
    # where they may suspend or revoke a recognition their organisation made (admins: any)
    # vacancies:write: the public employment services post and sync their vacancies
    PR: frozenset({"profiles:read", "referrals:read", "referrals:write", "credentials:read",
                   "credentials:write", "events:read", "webhooks:manage", "vacancies:read",
                   "vacancies:write"}),
    MS: frozenset({"referrals:read", "credentials:read", "credentials:write", "events:read",
                   "webhooks:manage", "vacancies:read", "vacancies:write"}),
    AD: frozenset({"admin", "catalogue:write", "credentials:write", "events:read",
                   "webhooks:manage", "reports:read"}),
    CW: frozenset({"profiles:read", "profiles:write", "referrals:read", "referrals:write",
                   "credentials:read", "credentials:write", "vacancies:read"}),
    CO: frozenset({"profiles:read", "profiles:write", "referrals:read", "referrals:write",
                   "credentials:read", "credentials:write", "reports:read", "vacancies:read"}),
}


@dataclass(frozen=True, slots=True)
class Rule:
    methods: frozenset[str]
    pattern: str
    roles: frozenset[Role]
    scope: str | None
    regex: re.Pattern[str]


def _rules(*rows: tuple[frozenset[str], str, frozenset[Role], str | None]) -> tuple[Rule, ...]:
    return tuple(Rule(m, p, r, s, compile_pattern(p)) for m, p, r, s in rows)


POLICY: tuple[Rule, ...] = _rules(
    # registry
    (READ, "/v1/profiles/statistics", frozenset({CO, AD}), "reports:read"),
    (frozenset({"POST"}), "/v1/profiles/bulk", CASELOAD, "profiles:write"),
    (READ, "/v1/profiles/{id}/recommendations", CASELOAD, "profiles:read"),
    (READ, "/v1/profiles/{id}/vacancy-matches", CASELOAD, "profiles:read"),
    (READ, "/v1/profiles/{id}/consent-check", CASELOAD | {PR}, "profiles:read"),
    # the security audit of refused probes: no data of the person, so admins read it too
    (READ, "/v1/profiles/{id}/access-denials", frozenset({CO, AD}), "reports:read"),
    (READ, "/v1/profiles", CASELOAD, "profiles:read"),
    (frozenset({"POST"}), "/v1/profiles", CASELOAD, "profiles:write"),
    (READ, "/v1/profiles/{id}", CASELOAD | {PR}, "profiles:read"),
    (WRITE, "/v1/profiles/{id}", CASELOAD, "profiles:write"),
    (READ, "/v1/profiles/{id}/{sub:path}", CASELOAD, "profiles:read"),
    (WRITE, "/v1/profiles/{id}/{sub:path}", CASELOAD, "profiles:write"),
    # portable records: imported by the destination's caseworkers (issue 21)
    (frozenset({"POST"}), "/v1/transfers/import", frozenset({CW, CO}), "profiles:write"),
    (READ, "/v1/worklist", frozenset({CW, CO}), "profiles:read"),
    (frozenset({"POST"}), "/v1/worklist/{id}/{action}", frozenset({CW, CO}), "profiles:write"),
    # referrals: catalogue, referrals, pathways, reports
    (READ, "/v1/programs", EVERYONE, None),
    (READ, "/v1/programs/{rest:path}", EVERYONE, None),
    (WRITE, "/v1/programs", frozenset({AD}), "catalogue:write"),
    (WRITE, "/v1/programs/{rest:path}", frozenset({AD}), "catalogue:write"),
    (READ, "/v1/providers", EVERYONE, None),
    (READ, "/v1/providers/{rest:path}", EVERYONE, None),
    (WRITE, "/v1/providers", frozenset({AD}), "catalogue:write"),
    (WRITE, "/v1/providers/{rest:path}", frozenset({AD}), "catalogue:write"),
    (READ, "/v1/referrals", CASELOAD | {PR, MS}, "referrals:read"),
    (READ, "/v1/referrals/{rest:path}", CASELOAD | {PR, MS}, "referrals:read"),
    (frozenset({"POST"}), "/v1/referrals", CASELOAD, "referrals:write"),
    (frozenset({"POST"}), "/v1/referrals/{id}/transitions", CASELOAD | {PR}, "referrals:write"),
    (READ, "/v1/pathways", CASELOAD | {PR}, "referrals:read"),
    (READ, "/v1/pathways/{rest:path}", CASELOAD | {PR}, "referrals:read"),
    (WRITE, "/v1/pathways", CASELOAD, "referrals:write"),
    (WRITE, "/v1/pathways/{rest:path}", CASELOAD, "referrals:write"),
    (READ, "/v1/reports/{rest:path}", frozenset({CO, AD}), "reports:read"),
    # vacancies: read by the referring side (in its regions) and their employment service;
    # posted, synced and edited by public employment services (the service checks which)
    (READ, "/v1/vacancies", CASELOAD | {PR, MS}, "vacancies:read"),
    (READ, "/v1/vacancies/{rest:path}", CASELOAD | {PR, MS}, "vacancies:read"),
    (frozenset({"POST"}), "/v1/vacancies", frozenset({PR, MS}), "vacancies:write"),
    (frozenset({"POST"}), "/v1/vacancies/bulk", frozenset({PR, MS}), "vacancies:write"),
    (frozenset({"PATCH"}), "/v1/vacancies/{id}", frozenset({PR, MS}), "vacancies:write"),
    # credentials
    (READ, "/v1/credentials", CASELOAD | {PR, MS}, "credentials:read"),
    (READ, "/v1/credentials/{rest:path}", CASELOAD | {PR, MS}, "credentials:read"),
    (frozenset({"POST"}), "/v1/credentials", CASELOAD, "credentials:write"),
    # ministry decisions arrive as signed inbound callbacks; providers, ministries and admins
    # come here only to suspend or revoke a recognition (the service checks whose it is)
    (frozenset({"POST"}), "/v1/credentials/{id}/transitions", CASELOAD | {PR, MS, AD},
     "credentials:write"),
    # gateway: who am I, events, webhooks, administration
    (READ, "/v1/me", EVERYONE, None),
    (READ, "/v1/events", INTEGRATORS, "events:read"),
    (READ, "/v1/event-types", EVERYONE, None),
    (ANY, "/v1/webhook-subscriptions", INTEGRATORS, "webhooks:manage"),
    (ANY, "/v1/webhook-subscriptions/{rest:path}", INTEGRATORS, "webhooks:manage"),
    (ANY, "/v1/organisations", frozenset({AD}), "admin"),
    (ANY, "/v1/organisations/{rest:path}", frozenset({AD}), "admin"),
    (ANY, "/v1/clients", frozenset({AD}), "admin"),
    (ANY, "/v1/clients/{rest:path}", frozenset({AD}), "admin"),
    (ANY, "/v1/inbound-sources", frozenset({AD}), "admin"),
    (ANY, "/v1/inbound-sources/{rest:path}", frozenset({AD}), "admin"),
)


def allowed(identity: Identity, method: str, path: str) -> bool:
    for rule in POLICY:
        if method in rule.methods and rule.regex.match(path):
            if identity.role not in rule.roles:
                return False
            return identity.scopes is None or rule.scope is None or rule.scope in identity.scopes
    return False
