"""The whole suite as a contract test: every request a test sends through the gateway and every
response it receives is checked against the merged ``/openapi.json`` of that same app
(openapi-core): the operation exists, the status is declared, the content type and the body
match the declared schema, the declared headers are present and well formed. A mismatch fails
the test with the operation id and the JSON path of the offending value.

Requests are not checked in tests marked ``invalid_request`` (they send bad input on purpose);
their responses still are. The spec is fetched from the first app of the session and reused.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from starlette.datastructures import Headers, QueryParams

# Operations not yet held to the document while the merge lets one service's component
# overwrite another's (issue 15, item 1: credentials' Action, Status, HistoryOut, TransitionIn
# and TransitionOut replace referrals'). "response": only the response is skipped; "both": the
# request too. EMPTY IT once the merge namespaces components: nothing else belongs here.
# Operations whose exchanges are not checked ("response" or "both"): none. The list stays so
# that a known defect can be parked visibly, with its reason, while it is being fixed.
KNOWN_COLLISIONS: dict[str, str] = {}

# How openapi-core reads the bodies of media types it does not know (it hands over raw bytes):
# problems (RFC 9457) and VC documents are JSON; a VC-JOSE-COSE credential and CSV are text.
MEDIA_TYPES: dict[str, Any] = {
    "application/problem+json": json.loads,
    "application/vc": json.loads,
    "application/vc+jwt": lambda value, **_: value.decode(),
    "text/csv": lambda value, **_: value.decode(),
}

# Paths served outside the API document on purpose (the document itself and its viewers).
UNDOCUMENTED = re.compile(r"^/(openapi\.json|docs|redoc)(/.*)?$")


@dataclass
class Operation:
    method: str
    template: str
    operation_id: str

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.template}"


@dataclass
class Contract:
    """The merged document, its openapi-core validators and a path → operation index."""

    document: dict[str, Any]
    openapi: OpenAPI = field(init=False)
    _index: list[tuple[re.Pattern[str], str, dict[str, Any]]] = field(init=False)

    def __post_init__(self) -> None:
        config = Config(extra_media_type_deserializers=MEDIA_TYPES)
        self.openapi = OpenAPI.from_dict(self.document, config=config)
        entries = []
        for template, item in self.document.get("paths", {}).items():
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            entries.append((template.count("{"), re.compile(f"^{regex}$"), template, item))
        entries.sort(key=lambda e: e[0])  # literal segments win over parameters
        self._index = [(rx, template, item) for _, rx, template, item in entries]

    def operation(self, method: str, path: str) -> Operation | None:
        for rx, template, item in self._index:
            if rx.match(path) and method.lower() in item:
                return Operation(method, template, item[method.lower()].get("operationId", "?"))
        return None

    def check(self, request: httpx.Request, response: httpx.Response, *,
              check_request: bool) -> None:
        path = request.url.path
        if UNDOCUMENTED.match(path) or _is_preflight(request):
            return
        op = self.operation(request.method, path)
        if op is None:
            if not check_request and response.status_code in (404, 405):
                return  # a test knocking on a door that must not exist
            raise ContractMismatch(f"{request.method} {path}: no operation in /openapi.json "
                                   f"(answered {response.status_code})")
        skipped = KNOWN_COLLISIONS.get(op.key)
        if skipped == "both":
            return
        oa_request = _Request(request)
        if check_request:
            error = _first(self.openapi, "validate_request", oa_request)
            if error is not None:
                raise ContractMismatch(_describe(op, "request", error))
        if skipped == "response":
            return
        error = _first(self.openapi, "validate_response", oa_request, _Response(response))
        if error is not None:
            raise ContractMismatch(_describe(op, f"response {response.status_code}", error))


def _is_preflight(request: httpx.Request) -> bool:
    """A CORS preflight is the browser asking, not an operation of the API."""
    return request.method == "OPTIONS" and "access-control-request-method" in request.headers


class ContractMismatch(AssertionError):
    """What the API did is not what its document says."""


def _first(openapi: OpenAPI, method: str, *args: Any) -> Exception | None:
    try:
        getattr(openapi, method)(*args)
    except Exception as exc:  # openapi-core raises one error type per kind of mismatch
        return exc
    return None


def _describe(op: Operation, what: str, error: Exception) -> str:
    """``operation_id (METHOD /template) request|response: reason``, then each cause with the
    JSON path of every value its schema refuses."""
    lines = [f"{op.operation_id} ({op.key}) {what} does not match /openapi.json"]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"  {type(current).__name__}: {_short(current)}")
        for schema_error in getattr(current, "schema_errors", ()) or ():
            lines.append(f"    at {schema_error.json_path}: {_short(schema_error.message)}")
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


def _short(value: object, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _Request:
    """An httpx request in openapi-core's request protocol."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.parameters = RequestParameters(
            query=QueryParams(request.url.query.decode()),
            header=Headers(raw=[(k.lower(), v) for k, v in request.headers.raw]),
            cookie=QueryParams(""),
        )

    @property
    def host_url(self) -> str:
        return f"{self._request.url.scheme}://{self._request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type") or "application/octet-stream"


class _Response:
    """An httpx response (already read) in openapi-core's response protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.headers = Headers(raw=[(k.lower(), v) for k, v in response.headers.raw])

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return self._response.headers.get("content-type") or ""

    @property
    def data(self) -> bytes | None:
        return self._response.content or None


class ContractState:
    """Per process (one per xdist worker): the cached contract and the current test's mode."""

    contract: Contract | None = None
    check_requests: bool = True
    enabled: bool = os.environ.get("RUTA_TEST_CONTRACT", "on") != "off"  # off: to measure


class ContractTransport(httpx.AsyncBaseTransport):
    """A transport to the gateway (ASGI, or HTTP to a running one) that holds every exchange
    to the gateway's document."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self._inner.handle_async_request(request)
        if not ContractState.enabled:
            return response
        await response.aread()
        contract = await self._contract(request)
        contract.check(request, response, check_request=ContractState.check_requests)
        return response

    async def _contract(self, request: httpx.Request) -> Contract:
        if ContractState.contract is None:
            spec = await self._inner.handle_async_request(
                httpx.Request("GET", request.url.copy_with(path="/openapi.json", query=None)))
            await spec.aread()
            assert spec.status_code == 200, spec.text
            ContractState.contract = Contract(spec.json())
        return ContractState.contract

    async def aclose(self) -> None:
        await self._inner.aclose()


def contract_client(app: Any = None, base_url: str = "http://ruta.test", **kwargs: Any
                    ) -> httpx.AsyncClient:
    """An AsyncClient on the gateway whose every exchange is contract-checked: the app over
    ASGI, or (``app=None``) a gateway already listening at ``base_url``."""
    inner: httpx.AsyncBaseTransport = (httpx.AsyncHTTPTransport() if app is None
                                       else httpx.ASGITransport(app=app))
    return httpx.AsyncClient(transport=ContractTransport(inner), base_url=base_url, **kwargs)
