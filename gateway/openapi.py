"""One OpenAPI document for the whole public API: the gateway's own plus every service's."""

from __future__ import annotations

import copy
from typing import Any

from gateway.routing import RouteTable


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
    doc["security"] = [{"bearerAuth": []}]
    return doc
