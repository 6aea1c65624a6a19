"""One OpenAPI document for the whole public API, valid, and covering PRODUCT.md's paths."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from gateway.edge.openapi import merge_openapi
from gateway.edge.openapi_merge import ComponentConflict, unresolved_refs
from gateway.edge.routing import RouteTable

PATHS_FILE = Path(__file__).resolve().parents[2] / "docs" / "api-paths.txt"


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _expected() -> tuple[set[str], set[str]]:
    built, pending = set(), set()
    for raw in PATHS_FILE.read_text().splitlines():
        line, _, comment = raw.partition("#")
        if not line.strip():
            continue
        method, path = line.split()
        (pending if "pending" in comment else built).add(f"{method} {path}")
    return built, pending


async def test_merged_document_is_valid_and_covers_the_contract(
    client: httpx.AsyncClient
) -> None:
    doc = (await client.get("/openapi.json")).json()
    validate(doc)
    operations = {f"{method.upper()} {_normalise(path)}"
                  for path, item in doc["paths"].items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    built, pending = _expected()
    assert built - operations == set(), "operations PRODUCT.md names are missing"
    assert pending & operations == set(), \
        "built now: remove their '# pending' marker in docs/api-paths.txt"
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert "Problem" in doc["components"]["schemas"]


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


async def test_every_ref_of_the_merged_document_resolves(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert unresolved_refs(doc) == []
    assert "$defs" not in json.dumps(doc)  # pydantic's nested definitions are hoisted
    inbound = doc["paths"]["/v1/inbound/{source}"]["post"]["requestBody"]
    schema = inbound["content"]["application/json"]["schema"]
    assert _resolve(doc, schema["properties"]["type"]["$ref"])["enum"]


async def test_each_service_documents_its_own_schemas(client: httpx.AsyncClient) -> None:
    """Referrals and credentials both name a schema TransitionIn: each operation documents
    its own, so a referral is not told to `recognise` or `revoke`."""
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]

    def body_of(path: str) -> dict[str, Any]:
        ref = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        schema: dict[str, Any] = _resolve(doc, ref["$ref"])
        return schema

    def actions(schema: dict[str, Any]) -> set[str]:
        return set(_resolve(doc, schema["properties"]["action"]["$ref"])["enum"])

    referral = body_of("/v1/referrals/{referral_id}/transitions")
    credential = body_of("/v1/credentials/{credential_id}/transitions")
    assert {"accept", "reject", "start", "complete", "cancel"} <= actions(referral)
    assert not {"recognise", "revoke"} & actions(referral)
    assert {"recognise", "revoke"} <= actions(credential)
    schemas = doc["components"]["schemas"]
    assert "Referrals_TransitionIn" in schemas and "Credentials_TransitionIn" in schemas
    assert "TransitionIn" not in schemas
    # what every service declares alike stays one shared component
    assert "Problem" in schemas and not any(n.endswith("_Problem") for n in schemas)
    # client generators name classes after titles: two "Status" would collide
    titles = [schema.get("title", name) for name, schema in schemas.items()]
    assert len(titles) == len(set(titles))


def test_two_different_schemas_under_one_name_fail_the_merge() -> None:
    own = {"openapi": "3.1.0", "paths": {}, "components": {"schemas": {
        "Registry_Thing": {"type": "string"}}}}
    registry = {"paths": {}, "components": {"schemas": {"Thing": {"type": "integer"}}}}
    with pytest.raises(ComponentConflict, match="Registry_Thing"):
        merge_openapi(own, {"registry": registry}, RouteTable())
    # the same definition twice is one component, not a conflict
    registry["components"]["schemas"]["Thing"] = {"type": "string"}
    merged = merge_openapi(own, {"registry": registry}, RouteTable())
    assert merged["components"]["schemas"]["Registry_Thing"] == {"type": "string"}


def test_nested_definitions_that_disagree_fail_the_merge() -> None:
    inline = {"type": "object", "properties": {"kind": {"$ref": "#/$defs/Kind"}},
              "$defs": {"Kind": {"enum": ["a"]}}}
    own = {"openapi": "3.1.0", "paths": {"/x": {"post": {"requestBody": {"content": {
        "application/json": {"schema": inline}}}, "responses": {}}}},
        "components": {"schemas": {"Kind": {"enum": ["b"]}}}}
    with pytest.raises(ComponentConflict, match="Kind"):
        merge_openapi(own, {}, RouteTable())


async def test_the_merged_document_is_byte_for_byte_deterministic(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    served = (await client.get("/openapi.json")).content
    services = {name: await up.openapi() for name, up in app.state.upstreams.items()}
    reverse = dict(reversed(list(services.items())))
    for order in (services, reverse):
        again = merge_openapi(app.openapi(), order, RouteTable())
        assert json.dumps(again) == json.dumps(json.loads(served))
