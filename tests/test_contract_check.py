"""The contract check every gateway exchange goes through (tests/support/contract.py): what it
catches and how it says so — the operation id and the JSON path of the offending value."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.contract import Contract, ContractMismatch, ContractState

DOC: dict[str, Any] = {
    "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
    "paths": {"/v1/things/{thing_id}": {"put": {
        "operationId": "things_replace",
        "parameters": [{"name": "thing_id", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}}}}}},
        "responses": {
            "200": {"description": "ok",
                    "headers": {"ETag": {"required": True, "schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["items"], "properties": {"items": {
                            "type": "array", "items": {"type": "object", "properties": {
                                "count": {"type": "integer"}}}}}}}}},
            "404": {"description": "missing", "content": {"application/problem+json": {
                "schema": {"type": "object", "required": ["status"]}}}},
        }}}},
}


def exchange(status: int, body: Any, *, sent: Any = None, headers: dict[str, str] | None = None,
             content_type: str = "application/json", path: str = "/v1/things/t1"
             ) -> tuple[httpx.Request, httpx.Response]:
    request = httpx.Request("PUT", f"http://ruta.test{path}", json=sent or {"name": "x"})
    response = httpx.Response(status, json=body, request=request,
                              headers={"etag": '"1"', **(headers or {})})
    response.headers["content-type"] = content_type
    return request, response


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(DOC)


def test_an_exchange_that_keeps_the_contract_passes(contract: Contract) -> None:
    contract.check(*exchange(200, {"items": [{"count": 2}]}), check_request=True)
    contract.check(*exchange(404, {"status": 404}, content_type="application/problem+json"),
                   check_request=True)


def test_a_body_off_schema_names_the_operation_and_the_json_path(contract: Contract) -> None:
    with pytest.raises(ContractMismatch) as caught:
        contract.check(*exchange(200, {"items": [{"count": "two"}]}), check_request=True)
    message = str(caught.value)
    assert "things_replace (PUT /v1/things/{thing_id}) response 200" in message
    assert "$.items[0].count" in message


@pytest.mark.parametrize(("status", "body", "content_type", "headers"), [
    (201, {"items": []}, "application/json", {}),  # status not declared
    (200, {"items": []}, "text/plain", {}),  # content type not declared
    (404, {"title": "no status"}, "application/problem+json", {}),  # problem off schema
])
def test_undeclared_status_content_type_or_problem_shape_fail(
    contract: Contract, status: int, body: Any, content_type: str, headers: dict[str, str]
) -> None:
    with pytest.raises(ContractMismatch, match="things_replace"):
        contract.check(*exchange(status, body, content_type=content_type, headers=headers),
                       check_request=True)


def test_a_missing_declared_header_fails(contract: Contract) -> None:
    request, response = exchange(200, {"items": []})
    del response.headers["etag"]
    with pytest.raises(ContractMismatch, match="ETag"):
        contract.check(request, response, check_request=True)


def test_bad_requests_fail_unless_the_test_sends_them_on_purpose(contract: Contract) -> None:
    request, response = exchange(200, {"items": []}, sent={"name": "x", "extra": 1})
    with pytest.raises(ContractMismatch, match=r"things_replace .* request"):
        contract.check(request, response, check_request=True)
    contract.check(request, response, check_request=False)  # invalid_request: response only


def test_a_path_outside_the_document_fails(contract: Contract) -> None:
    with pytest.raises(ContractMismatch, match="no operation"):
        contract.check(*exchange(200, {"items": []}, path="/v1/nothing"), check_request=True)


async def test_the_suite_client_is_held_to_the_merged_document(
    client: httpx.AsyncClient
) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert ContractState.contract is not None
    assert ContractState.contract.operation("POST", "/v1/profiles") is not None
