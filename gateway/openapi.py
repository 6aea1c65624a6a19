"""One OpenAPI document for the whole public API: the gateway's own plus every service's."""

from __future__ import annotations

import copy
from typing import Any

from gateway.policy import SCOPES_BY_ROLE
from gateway.routing import RouteTable

ALL_SCOPES = set().union(*SCOPES_BY_ROLE.values())


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
    for name, service_doc in services.items():
        for path, item in service_doc.get("paths", {}).items():
            route = routes.match(path.replace("{", "x").replace("}", "x"))
            if route is None or route.upstream != name:
                continue  # operational paths (/healthz...) belong to the gateway's own
            paths[path] = item
        for section, entries in service_doc.get("components", {}).items():
            components.setdefault(section, {}).update(entries)
    schemes = components.setdefault("securitySchemes", {})
    schemes["bearerAuth"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                             "description": "Access token from /oauth/token or a trusted "
                                            "identity provider"}
    schemes["oauth2"] = {"type": "oauth2", "flows": {"clientCredentials": {
        "tokenUrl": "/oauth/token", "scopes": {s: s for s in sorted(ALL_SCOPES)}}}}
    doc["security"] = [{"bearerAuth": []}]
    for path, item in paths.items():
        route = routes.match(path.replace("{", "x").replace("}", "x"))
        if route is None or route.public:  # operational, auth and signature-checked paths
            for operation in item.values():
                if isinstance(operation, dict):
                    operation["security"] = []
    return doc
