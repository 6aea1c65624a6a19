"""The service's route template of a path the front door refused before forwarding it.

A request answered 401, 403, 413 or 429 at the front door never reaches its service, so no
service tells the metrics which template it matched; the route table only knows a prefix
(``/v1/profiles/{rest:path}``). The services' published paths (their OpenAPI documents,
read once per service and kept) name it instead: literal segments win over parameters, as in
the services' own routers. Only refused requests pay for the lookup.
"""

from __future__ import annotations

import re

import structlog

from gateway.edge.routing import Route, compile_pattern
from gateway.edge.upstreams import Upstream

log = structlog.get_logger("ruta.edge")


def _specificity(template: str) -> tuple[int, int]:
    """Fewer parameters first, then longer: ``/v1/profiles/statistics`` before
    ``/v1/profiles/{profile_id}``."""
    return template.count("{"), -len(template)


class TemplateIndex:
    def __init__(self, upstreams: dict[str, Upstream]) -> None:
        self.upstreams = upstreams
        self._by_upstream: dict[str, list[tuple[re.Pattern[str], str]]] = {}

    async def template(self, route: Route, path: str) -> str | None:
        patterns = await self._patterns(route.upstream)
        return next((t for rx, t in patterns if rx.match(path)), None)

    async def _patterns(self, name: str) -> list[tuple[re.Pattern[str], str]]:
        if name in self._by_upstream:
            return self._by_upstream[name]
        upstream = self.upstreams.get(name)
        if upstream is None:
            return []
        try:
            paths = (await upstream.openapi()).get("paths", {})
        except Exception as exc:  # the service is down: the prefix will do this time
            log.debug("route_templates_unavailable", upstream=name, error=type(exc).__name__)
            return []
        patterns = [(compile_pattern(t), t) for t in sorted(paths, key=_specificity)]
        self._by_upstream[name] = patterns
        return patterns
