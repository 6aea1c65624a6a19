"""Components of several OpenAPI documents in one, without collisions.

Every service names its schemas freely (``TransitionIn`` exists in referrals and in
credentials), so a service's components are renamed ``<Service>_<Name>`` in the merged
document, and every ``$ref`` to them follows. A component that every document defining it
declares identically (``Problem``) stays shared under its own name. The gateway's own
components keep their names. Pydantic's nested ``$defs`` (schemas inlined with
``model_json_schema()``) are hoisted into ``components/schemas`` so that every ``$ref``
resolves. Two different schemas that would end under one name raise ``ComponentConflict``:
the build fails instead of one silently replacing the other.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

SCHEMA_REF = "#/components/schemas/"
DEFS_REF = "#/$defs/"
OWN = "gateway"


class ComponentConflict(ValueError):
    """Two different components under one name in the merged document."""

    def __init__(self, section: str, name: str, owners: tuple[str, str]) -> None:
        super().__init__(f"components/{section}/{name}: {owners[0]} and {owners[1]} declare "
                         "different definitions under this name")
        self.section, self.name, self.owners = section, name, owners


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _mapping(obj: dict[str, Any]) -> dict[str, Any]:
    """A discriminator's mapping: its values are references too."""
    discriminator = obj.get("discriminator")
    mapping = discriminator.get("mapping") if isinstance(discriminator, dict) else None
    return mapping if isinstance(mapping, dict) else {}


def refs_in(node: Any) -> Iterator[str]:
    for obj in _walk(node):
        if isinstance(obj.get("$ref"), str):
            yield obj["$ref"]
        yield from (v for v in _mapping(obj).values() if isinstance(v, str))


def rewrite_refs(node: Any, rename: Callable[[str], str]) -> None:
    """Every ``$ref`` (and discriminator mapping) in ``node`` replaced by ``rename(ref)``."""
    for obj in _walk(node):
        ref = obj.get("$ref")
        if isinstance(ref, str):
            obj["$ref"] = rename(ref)
        mapping = _mapping(obj)
        for key, value in mapping.items():
            if isinstance(value, str):
                mapping[key] = rename(value)


def _place(target: dict[str, Any], owners: dict[str, str], section: str, name: str,
           value: Any, owner: str) -> None:
    """``value`` under ``name`` in ``target``: the same definition twice is one entry, a
    different one raises."""
    if name in target and canonical(target[name]) != canonical(value):
        raise ComponentConflict(section, name, (owners.get(name, OWN), owner))
    target.setdefault(name, value)
    owners.setdefault(name, owner)


def hoist_defs(doc: dict[str, Any], owner: str) -> None:
    """Nested pydantic ``$defs`` moved into ``components/schemas`` (refs rewritten)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    owners: dict[str, str] = {}
    found: list[dict[str, Any]] = [obj for obj in _walk(doc) if isinstance(obj.get("$defs"),
                                                                          dict)]
    for obj in found:
        defs = obj.pop("$defs")
        for name, schema in defs.items():
            _place(schemas, owners, "schemas", name, schema, owner)
    if found:
        rewrite_refs(doc, lambda ref: SCHEMA_REF + ref.removeprefix(DEFS_REF)
                     if ref.startswith(DEFS_REF) else ref)


def prefixed(service: str, name: str) -> str:
    return f"{service[:1].upper()}{service[1:]}_{name}"


def _refs_of(schema: Any) -> set[str]:
    return {ref.removeprefix(SCHEMA_REF) for ref in refs_in(schema)
            if ref.startswith(SCHEMA_REF)}


def shared_names(docs: dict[str, dict[str, Any]]) -> set[str]:
    """Schema names declared identically by every document that declares them (and only
    referring to such names), by at least two documents."""
    declared: dict[str, list[Any]] = {}
    for doc in docs.values():
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            declared.setdefault(name, []).append(schema)
    shared = {name for name, schemas in declared.items()
              if len(schemas) > 1 and len({canonical(s) for s in schemas}) == 1}
    while True:  # a shared schema referring to a renamed one cannot stay shared
        keep = {name for name in shared if _refs_of(declared[name][0]) <= shared}
        if keep == shared:
            return shared
        shared = keep


def namespace(service: str, doc: dict[str, Any], shared: set[str]) -> dict[str, Any]:
    """A copy of a service's document whose schemas are named ``<Service>_<Name>``, except
    the shared ones; refs follow."""
    doc = copy.deepcopy(doc)
    schemas = doc.get("components", {}).get("schemas", {})
    names = {name: name if name in shared else prefixed(service, name) for name in schemas}
    rewrite_refs(doc, lambda ref: SCHEMA_REF + names.get(ref.removeprefix(SCHEMA_REF),
                                                         ref.removeprefix(SCHEMA_REF))
                 if ref.startswith(SCHEMA_REF) else ref)
    for name, schema in schemas.items():
        # generators name classes after the title: two services' "Status" would collide
        if isinstance(schema, dict) and schema.get("title") == name != names[name]:
            schema["title"] = names[name]
    if schemas:
        doc["components"]["schemas"] = {names[n]: s for n, s in schemas.items()}
    return doc


def merge_components(target: dict[str, Any], owner: str, components: dict[str, Any],
                     owners: dict[tuple[str, str], str]) -> None:
    """A document's components into the merged ones (security schemes are the gateway's)."""
    for section, entries in components.items():
        if section == "securitySchemes":
            continue
        into = target.setdefault(section, {})
        section_owners = {n: o for (s, n), o in owners.items() if s == section}
        for name, value in entries.items():
            _place(into, section_owners, section, name, value, owner)
            owners.setdefault((section, name), owner)


# FastAPI's default validation error, replaced by Problem in every operation
UNUSED_DEFAULTS = ("HTTPValidationError", "ValidationError")


def drop_unreferenced_defaults(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    used = _refs_of({k: v for k, v in doc.items() if k != "components"})
    used |= {r for name, schema in schemas.items() if name not in UNUSED_DEFAULTS
             for r in _refs_of(schema)}
    for name in UNUSED_DEFAULTS:
        if name not in used:
            schemas.pop(name, None)


def unresolved_refs(doc: dict[str, Any]) -> list[str]:
    """Every local ``$ref`` (and discriminator mapping) of the document that does not
    resolve (JSON pointer walk)."""
    missing = []
    for ref in refs_in(doc):
        if not ref.startswith("#/"):
            missing.append(ref)
            continue
        node: Any = doc
        for part in ref[2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or key not in node:
                missing.append(ref)
                break
            node = node[key]
    return missing
