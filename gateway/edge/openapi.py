"""One OpenAPI document for the whole public API: the gateway's own plus every service's."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse

from gateway.edge.openapi_merge import (
    OWN,
    drop_unreferenced_defaults,
    hoist_defs,
    merge_components,
    namespace,
    shared_names,
)
from gateway.edge.openapi_metadata import describe
from gateway.edge.policy import SCOPES_BY_ROLE
from gateway.edge.routing import Route, RouteTable
from gateway.edge.upstreams import Upstream
from gateway.events.catalogue_api import webhooks_section
from shared.errors import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA
from shared.i18n import status_title

ALL_SCOPES = set().union(*SCOPES_BY_ROLE.values())


def install_merged_docs(app: FastAPI, upstreams: dict[str, Upstream], routes: RouteTable
                        ) -> None:
    """Serve /openapi.json (its pages: shared/docs.py). Merged on the first request:
    the services' documents are only reachable once their upstreams have started."""
    merged: dict[str, Any] = {}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        if not merged:
            docs = {name: await up.openapi() for name, up in upstreams.items()}
            merged.update(merge_openapi(app.openapi(), docs, routes))
        return JSONResponse(merged)


def route_of(routes: RouteTable, path: str) -> Route | None:
    """The route owning a templated path (``{id}`` read as a concrete segment)."""
    return routes.match(path.replace("{", "x").replace("}", "x"))


def merge_openapi(
    own: dict[str, Any], services: dict[str, dict[str, Any]], routes: RouteTable,
) -> dict[str, Any]:
    doc = copy.deepcopy(own)
    doc["info"] = {
        "title": "Ruta de Empleabilidad API",
        "version": own.get("info", {}).get("version", "1.0.0"),
        "description": "Public API of the employability route for Venezuelan migrants and "
                       "refugees in Peru and Ecuador. Errors are RFC 9457 problem details, "
                       "in Spanish unless `Accept-Language: en`.",
    }
    paths = doc.setdefault("paths", {})
    components = doc.setdefault("components", {})
    hoist_defs(doc, OWN)
    services = {name: copy.deepcopy(service_doc) for name, service_doc in services.items()}
    for name, service_doc in services.items():
        hoist_defs(service_doc, name)
    shared = shared_names({OWN: doc, **services})
    owners = {(section, entry): OWN for section, entries in components.items()
              for entry in entries}
    for name, service_doc in sorted(services.items()):
        service_doc = namespace(name, service_doc, shared)
        for path, item in service_doc.get("paths", {}).items():
            route = route_of(routes, path)
            if route is None or route.upstream != name:
                continue  # operational paths (/healthz...) belong to the gateway's own
            paths[path] = item
        merge_components(components, name, service_doc.get("components", {}), owners)
    schemes = components.setdefault("securitySchemes", {})
    schemes["bearerAuth"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                             "description": "Access token from /oauth/token or a trusted "
                                            "identity provider"}
    schemes["oauth2"] = {"type": "oauth2", "flows": {"clientCredentials": {
        "tokenUrl": "/oauth/token", "scopes": {s: s for s in sorted(ALL_SCOPES)}}}}
    doc["security"] = [{"bearerAuth": []}]
    complete_responses(doc, routes)
    describe(doc, routes)  # security, roles, errors and headers of every operation
    add_links(doc)
    drop_unreferenced_defaults(doc)
    components["schemas"] = dict(sorted(components.get("schemas", {}).items()))
    doc["webhooks"] = webhooks_section()
    return doc


PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def _problem(status: int) -> dict[str, Any]:
    return {"description": status_title(status).en, "content": copy.deepcopy(PROBLEM_CONTENT)}


def complete_responses(doc: dict[str, Any], routes: RouteTable) -> None:
    """Declare every status the front door itself can answer, whatever the service says:
    401/403 on authenticated routes, 429 (rate limits) and 431 (header size) everywhere,
    400 (unreadable body) and 413 (body size) where there is a body, 503/504 (service down
    or slow) on forwarded routes; validation errors are problems, not FastAPI's default."""
    doc.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "Problem", PROBLEM_SCHEMA)
    for path, item in doc.get("paths", {}).items():
        route = route_of(routes, path)
        for method, operation in item.items():
            if method not in METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                # every error is a problem: FastAPI's default 422 and bare entries were not
                # (an operation declaring its own error format, /oauth/token's RFC 6749
                # JSON, keeps it)
                content = response.get("content", {})
                default_422 = "HTTPValidationError" in str(content)
                if status[:1] in ("4", "5") and (not content or default_422):
                    responses[status] = {**_problem(int(status)),
                                         "description": response.get("description")
                                         or status_title(int(status)).en}
            wanted = [429, 431]
            if operation.get("requestBody"):
                wanted += [400, 413]
            if operation.get("parameters") or operation.get("requestBody"):
                wanted.append(422)
            if route is not None and not route.public:
                wanted += [401, 403]
            if route is not None and route.upstream != "gateway":
                wanted += [503, 504]
            for status in wanted:
                responses.setdefault(str(status), _problem(status))
    metrics = doc.get("paths", {}).get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"] = {
            "description": "Prometheus text exposition",
            "content": {"text/plain": {"schema": {"type": "string"}}}}


# (operation, status) → links to follow from its answer, for clients and stateful testing.
_LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}


def _link(source: tuple[str, str, str], name: str, target: tuple[str, str],
          parameters: dict[str, str]) -> None:
    _LINKS.setdefault(source, {})[name] = {"operationRef": "#/paths/" + target[0].replace(
        "~", "~0").replace("/", "~1") + "/" + target[1], "parameters": parameters}


_PROFILE = {"profile_id": "$response.body#/id"}
for _target, _name in [(("/v1/profiles/{profile_id}", "get"), "GetProfile"),
                       (("/v1/profiles/{profile_id}", "patch"), "UpdateProfile"),
                       (("/v1/profiles/{profile_id}", "delete"), "EraseProfile"),
                       (("/v1/profiles/{profile_id}/consents", "get"), "ListConsents"),
                       (("/v1/profiles/{profile_id}/audit", "get"), "ProfileAudit"),
                       (("/v1/profiles/{profile_id}/export", "get"), "ExportProfile"),
                       (("/v1/profiles/{profile_id}/duplicates", "get"), "Duplicates")]:
    _link(("/v1/profiles", "post", "201"), _name, _target, _PROFILE)
for _target, _name in [(("/v1/referrals/{referral_id}", "get"), "GetReferral"),
                       (("/v1/referrals/{referral_id}/history", "get"), "ReferralHistory"),
                       (("/v1/referrals/{referral_id}/transitions", "post"), "MoveReferral")]:
    _link(("/v1/referrals", "post", "201"), _name, _target,
          {"referral_id": "$response.body#/id"})
for _target, _name in [(("/v1/credentials/{credential_id}", "get"), "GetCredential"),
                       (("/v1/credentials/{credential_id}/history", "get"), "History"),
                       (("/v1/credentials/{credential_id}/vc", "get"), "Export")]:
    _link(("/v1/credentials", "post", "201"), _name, _target,
          {"credential_id": "$response.body#/id"})
_link(("/v1/pathways", "post", "201"), "GetPathway", ("/v1/pathways/{pathway_id}", "get"),
      {"pathway_id": "$response.body#/id"})
_link(("/v1/clients", "post", "201"), "GetClient", ("/v1/clients/{client_id}", "get"),
      {"client_id": "$response.body#/client_id"})


def add_links(doc: dict[str, Any]) -> None:
    """OpenAPI links from a create to the operations on what it created (only where both
    operations, their parameter and the response exist in this document)."""
    paths = doc.get("paths", {})
    for (path, method, status), links in _LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, link in links.items():
            tpath, tmethod = _decode_ref(link["operationRef"])
            target = paths.get(tpath, {}).get(tmethod)
            if target is None:
                continue
            names = {p.get("name") for p in target.get("parameters", [])}
            if not set(link["parameters"]) <= names:
                continue
            response.setdefault("links", {})[name] = copy.deepcopy(link)


def _decode_ref(ref: str) -> tuple[str, str]:
    pointer = ref.removeprefix("#/paths/")
    encoded, _, method = pointer.rpartition("/")
    return encoded.replace("~1", "/").replace("~0", "~"), method
