"""What the registry asks its siblings, through their public APIs (never their tables).

The ARCO export must cover what every service holds on the person. A sibling that does not
offer the list yet (404/405) is recorded as ``{"status": "unavailable"}``; a sibling that is
down fails the whole export (503): an access request is never answered silently incomplete.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from shared.errors import AppError, ServiceUnavailable, UpstreamTimeout
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.peers import PeerAnswerUnexpected, Peers

# The registry itself, once it has authorised the caller's export of this person.
EXPORTER = Identity(subject="svc-registry-arco-export", role=Role.SYSTEM, organisation_id=None)
# section → (path, asked as the registry). Referrals are asked as the registry: the person's
# referrals made by other organisations (with the person's consent) are theirs too, and the
# caller could not list them. Credentials are filed under the person and listed whole to
# anyone who may see the person: asked as the caller, whose scope the service re-checks.
SECTIONS = {"credentials": ("/v1/credentials", False), "referrals": ("/v1/referrals", True)}
MAX_PAGES = 50


class ExportIncomplete(AppError):
    status = 503
    code = "export-incomplete"
    detail_text = Text(
        "No se pudo reunir lo que el servicio {service} guarda sobre la persona; la "
        "exportación no se entrega incompleta. Reintente más tarde.",
        "Could not gather what the {service} service holds on the person; the export is "
        "never delivered incomplete. Retry later.")


class ExportUpstreamError(ExportIncomplete):
    status = 502
    code = "export-upstream-error"


async def _section(peers: Peers, identity: Identity, service: str, profile_ids: list[str]
                   ) -> dict[str, Any]:
    path, as_registry = SECTIONS[service]
    if as_registry:
        identity = replace(EXPORTER, request_id=identity.request_id)
    items: list[dict[str, Any]] = []
    for pid in profile_ids:
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"profile_id": pid, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            try:
                page = await peers.get_json(service, path, identity=identity, params=params,
                                            absent=(404, 405))
            except PeerAnswerUnexpected:
                raise ExportUpstreamError(service=service) from None
            except (ServiceUnavailable, UpstreamTimeout):
                raise ExportIncomplete(service=service) from None
            if page is None:
                return {"status": "unavailable"}
            if isinstance(page, list):
                items += page
                break
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise ExportUpstreamError(service=service)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        else:
            raise ExportUpstreamError(service=service)
    return {"status": "ok", "items": items}


async def gather_sibling_data(peers: Peers, identity: Identity, profile_ids: list[str]
                              ) -> dict[str, dict[str, Any]]:
    """``{"credentials": {...}, "referrals": {...}}`` for the person's ids (merged included).
    Call only after the caller was authorised to export this person."""
    return {name: await _section(peers, identity, name, profile_ids) for name in SECTIONS}


PROGRAMME_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# The catalogue is reference data, not a person's: asked as the registry itself.
CATALOGUE_READER = Identity(subject="svc-registry-catalogue", role=Role.SYSTEM,
                            organisation_id=None)


async def unknown_programmes(peers: Peers, identity: Identity, programme_ids: set[str]
                             ) -> set[str]:
    """Which of ``programme_ids`` the referrals catalogue does not know (withdrawn
    programmes are known: a consent may still name one). A consent naming a programme that
    does not exist is a consent for nothing: no check would ever match it. Referrals down or
    answering off-contract is a 503 (never an unknown programme accepted)."""
    reader = replace(CATALOGUE_READER, request_id=identity.request_id)
    unknown = set()
    for programme_id in sorted(programme_ids):
        if not PROGRAMME_ID.fullmatch(programme_id):  # not a catalogue slug: nothing to ask
            unknown.add(programme_id)
            continue
        found = await peers.get_json("referrals", f"/v1/programs/{programme_id}",
                                     identity=reader)
        if found is None:
            unknown.add(programme_id)
        elif not isinstance(found, dict) or found.get("id") != programme_id:
            raise ServiceUnavailable()
    return unknown
