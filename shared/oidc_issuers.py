"""RUTA_OIDC_ISSUERS read and checked: which identity providers are trusted for people, and
for what.

A trusted provider used to be able to assert any role and any organisation, ``admin``
included: one compromised or careless ministry realm could then act for every NGO. Each
entry therefore bounds its trust (issue 16, item 8):

- ``organisations``: the organisation ids its tokens may name, or ``"*"`` for any. ``"*"``
  is allowed only for the operator's own provider: any other provider speaks for a known
  list of organisations, and a token naming none of them is refused.
- ``roles``: the roles its tokens may carry (never ``system``).
- ``operator``: ``true`` only for the operator's own provider, the only one whose roles may
  include ``admin``; a list that grants ``admin`` without it is refused at start-up rather
  than quietly ignored, so that the operator notices the mistake.

Production refuses an entry without ``organisations`` or ``roles``. Development accepts it
(existing local set-ups keep working; the gateway logs a warning) and fills the gap with
"any organisation" and "every human role but ``admin``" (``admin`` only with
``operator: true``). Problems name the entry by its index, never its values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.identity import Role

SETTING = "RUTA_OIDC_ISSUERS"
ANY = "*"
HUMAN_ROLES = frozenset(r for r in Role if r is not Role.SYSTEM)
_ROLE_NAMES = ", ".join(sorted(r.value for r in HUMAN_ROLES))


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    issuer: str
    jwks_url: str
    audience: str
    role_claim: str
    organisation_claim: str
    regions_claim: str
    permissions_claim: str | None
    organisations: frozenset[str] | None  # None: any organisation ("*")
    roles: frozenset[Role]
    operator: bool
    bounded: bool  # False: a development entry without organisations or roles
    index: int

    def allows(self, role: Role, organisation: str | None) -> bool:
        """Whether a token from this provider may carry this role and organisation."""
        if role not in self.roles or (role is Role.ADMIN and not self.operator):
            return False
        return self.organisations is None or organisation in self.organisations


class IssuerProblems(ValueError):
    """Every problem of RUTA_OIDC_ISSUERS, each a line naming the entry, no value echoed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def issuer_problems(raw: str, *, production: bool) -> list[str]:
    try:
        parse_issuers(raw, production=production)
    except IssuerProblems as exc:
        return exc.problems
    return []


def parse_issuers(raw: str, *, production: bool) -> list[IssuerEntry]:
    """The entries, in order; :class:`IssuerProblems` listing every problem at once."""
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        items = None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise IssuerProblems([f"{SETTING} must be a JSON list of objects"])
    entries, problems, seen = [], [], set()
    for index, item in enumerate(items):
        where = f"{SETTING}[{index}]"
        found = _entry_problems(item, production=production)
        issuer = item.get("issuer")
        if isinstance(issuer, str) and issuer in seen:
            found.append("issuer already listed")
        seen.add(str(issuer))
        problems += [f"{where}: {p}" for p in found]
        if not found:
            entries.append(_entry(item, index))
    if problems:
        raise IssuerProblems(problems)
    return entries


def _entry_problems(item: dict[str, Any], *, production: bool) -> list[str]:
    found = []
    if not all(isinstance(item.get(k), str) and item[k] for k in ("issuer", "jwks_url",
                                                                 "audience")):
        found.append("issuer, jwks_url and audience are required")
    claims = item.get("claims", {})
    if not isinstance(claims, dict) or not all(isinstance(v, str) and v
                                               for v in claims.values()):
        found.append("claims must map role, organisation, regions, permissions to claim names")
    operator = item.get("operator", False)
    if not isinstance(operator, bool):
        found.append("operator must be true or false")
    organisations, roles = item.get("organisations"), item.get("roles")
    if organisations is None:
        if production:
            found.append('organisations must be set (a list of organisation ids, or "*" for '
                         "the operator's provider)")
    elif organisations == ANY:
        if operator is not True:
            found.append('organisations "*" is allowed only with operator: true')
    elif not (isinstance(organisations, list) and organisations
              and all(isinstance(o, str) and o for o in organisations)):
        found.append('organisations must be a non-empty list of organisation ids, or "*"')
    if roles is None:
        if production:
            found.append("roles must be set (the roles this provider may grant)")
    elif not (isinstance(roles, list) and roles and all(isinstance(r, str) and r in HUMAN_ROLES
                                                          for r in roles)):
        found.append(f"roles must be a non-empty list of {_ROLE_NAMES}")
    elif Role.ADMIN in roles and operator is not True:
        found.append("roles may include admin only with operator: true")
    return found


def _entry(item: dict[str, Any], index: int) -> IssuerEntry:
    claims = item.get("claims", {})
    operator = bool(item.get("operator", False))
    organisations, roles = item.get("organisations"), item.get("roles")
    if roles is None:  # development only: every human role, admin only for the operator
        roles = [r for r in HUMAN_ROLES if operator or r is not Role.ADMIN]
    return IssuerEntry(
        issuer=item["issuer"], jwks_url=item["jwks_url"], audience=item["audience"],
        role_claim=claims.get("role", "role"),
        organisation_claim=claims.get("organisation", "organisation"),
        regions_claim=claims.get("regions", "regions"),
        permissions_claim=claims.get("permissions"),
        organisations=None if organisations in (None, ANY) else frozenset(organisations),
        roles=frozenset(Role(r) for r in roles), operator=operator,
        bounded="organisations" in item and "roles" in item, index=index,
    )
