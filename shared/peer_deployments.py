"""RUTA_PEER_DEPLOYMENTS read and checked: the other countries' deployments trusted for
portable records (issue 21).

Each entry names a deployment by its ``id`` (what a consent names as the destination), its
``country`` (ISO 3166-1 alpha-2), its ``issuer`` (its public base URL: the ``iss`` of the
bundles it signs, and where its credential issuer and status lists live), its ``jwks_url``
(the keys that sign its bundles and receive bundles encrypted to it) and, optionally, its
``inbound_url`` (where it hears that a person it sent has arrived). A deployment not listed
here is untrusted: its bundles are refused and no bundle is prepared for it.

Problems name the entry by its index, never its values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SETTING = "RUTA_PEER_DEPLOYMENTS"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class PeerDeployment:
    id: str
    country: str
    issuer: str
    jwks_url: str
    inbound_url: str | None
    index: int

    @property
    def credential_issuer_prefix(self) -> str:
        """What the ids of the credentials this deployment issues begin with."""
        return self.issuer.rstrip("/") + "/"


class PeerProblems(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def peer_problems(raw: str) -> list[str]:
    try:
        parse_peers(raw)
    except PeerProblems as exc:
        return exc.problems
    return []


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://")) \
        and len(value) <= 500


def parse_peers(raw: str) -> dict[str, PeerDeployment]:
    """The peers by id; :class:`PeerProblems` listing every problem at once."""
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        items = None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PeerProblems([f"{SETTING} must be a JSON list of objects"])
    out: dict[str, PeerDeployment] = {}
    problems: list[str] = []
    for index, item in enumerate(items):
        where = f"{SETTING}[{index}]"
        found = []
        if not (isinstance(item.get("id"), str) and _ID.match(item["id"])):
            found.append("id must be lower-case letters, digits and dashes")
        elif item["id"] in out:
            found.append("id already listed")
        if not (isinstance(item.get("country"), str) and _COUNTRY.match(item["country"])):
            found.append("country must be an ISO 3166-1 alpha-2 code")
        if not _is_url(item.get("issuer")) or not _is_url(item.get("jwks_url")):
            found.append("issuer and jwks_url must be http(s) URLs")
        if item.get("inbound_url") is not None and not _is_url(item["inbound_url"]):
            found.append("inbound_url must be an http(s) URL")
        unknown = set(item) - {"id", "country", "issuer", "jwks_url", "inbound_url"}
        if unknown:
            found.append("unknown keys: " + ", ".join(sorted(unknown)))
        problems += [f"{where}: {p}" for p in found]
        if not found:
            out[item["id"]] = PeerDeployment(
                id=item["id"], country=item["country"], issuer=item["issuer"].rstrip("/"),
                jwks_url=item["jwks_url"], inbound_url=item.get("inbound_url"), index=index)
    if problems:
        raise PeerProblems(problems)
    return out
