"""What the merged document says around each operation: tags, who may call it (from the
route policy), its errors, the security requirement with its scopes, and the request and
response headers the front door really reads and sends."""

from __future__ import annotations

from typing import Any

from gateway.edge.policy import POLICY, Rule
from gateway.edge.routing import Route, RouteTable
from shared.i18n import status_title

TAGS: dict[str, str] = {
    "profiles": "People's registry: profiles, documents, consents, duplicates, ARCO rights "
                "(access, rectification, cancellation) and the profile's audit trail.",
    "worklist": "What a caseworker must act on: documents expiring or expired, referrals "
                "past their deadline, consents expiring, profiles received; acknowledge, "
                "snooze or assign each item.",
    "recommendations": "Routes of the catalogue that fit a person, with reasons and missing "
                       "requirements.",
    "programs": "The route catalogue: training, certification, recognition, employment and "
                "entrepreneurship programmes. Anyone may read it; admins edit it.",
    "providers": "Organisations that deliver programmes, the regions they serve and their "
                 "response time (SLA).",
    "referrals": "Referring a person to a provider's programme and following it through its "
                 "lifecycle (accept, start, complete with an outcome...).",
    "pathways": "Multi-step routes: each step opens a referral when the previous one ends.",
    "reports": "Non-identifying indicators for programme coordinators.",
    "vacancies": "Job vacancies of the public employment services (ISCO-08 occupations, "
                 "requirements, wages), posted and synced by them and read by caseworkers; "
                 "applying is a referral with `vacancy_id`. Explainable matching: a person's "
                 "vacancies and a vacancy's consenting candidates, requirement by "
                 "requirement.",
    "credentials": "A person's degrees, certificates and licences, their verification "
                   "state, and their export as W3C verifiable credentials.",
    "credential verification (public)": "For employers and anyone else: verify an exported "
                                        "credential, and the issuer's keys and status lists. "
                                        "No token.",
    "events and webhooks": "The ordered event feed, webhook subscriptions and their "
                           "deliveries, and signed callbacks from ministry systems.",
    "portable records": "A person's record carried to another country's deployment with "
                        "their consent: the signed and encrypted bundle, its import at the "
                        "destination, and the deployment's own keys (public).",
    "administration": "Organisations and machine clients (admin), and who the caller is.",
    "auth": "OAuth2 client credentials for machine clients, and the keys that verify access "
            "tokens.",
    "operations": "Liveness, readiness and metrics, for the people who run the system.",
}

METHODS = ("get", "put", "post", "patch", "delete")

# What each error status means across this API (an operation's own wording wins).
ERROR_MEANINGS: dict[int, str] = {
    400: "the body or a cursor could not be read",
    401: "no valid bearer token",
    403: "your role or your token's scopes do not allow this operation",
    404: "it does not exist, or is not visible to you",
    409: "it conflicts with the current state (or the same Idempotency-Key is still running)",
    410: "it is gone (erased or merged)",
    412: "If-Match does not match the current version: read it again",
    413: "the body is too large",
    422: "invalid input: the problem's `errors` name each field",
    428: "If-Match is required",
    429: "too many requests: wait `Retry-After` seconds",
    431: "the request headers are too large",
    502: "a service answered with an error",
    503: "a service it depends on is unavailable",
    504: "a service it depends on did not answer in time",
}

# Operations whose successful answer carries the version as ETag (checked by real requests
# in tests/gateway/test_openapi_operations.py); every other 201 carries Location too.
SENDS_ETAG = frozenset({
    "organisations_create", "organisations_read", "organisations_update",
    "clients_create", "clients_read", "clients_rotate_secret", "clients_disable",
    "clients_enable", "webhook_subscriptions_create", "webhook_subscriptions_read",
    "webhook_subscriptions_rotate_secret", "webhook_subscriptions_disable",
    "webhook_subscriptions_enable",
    "profiles_create", "profiles_read", "profiles_update", "profiles_merge",
    "consents_record", "consents_withdraw",
    "programs_create", "programs_read", "programs_update",
    "providers_create", "providers_read", "providers_update",
    "referrals_create", "referrals_read", "referrals_transition",
    "pathways_create", "pathways_read", "pathways_transition",
    "credentials_create", "credentials_read", "credentials_transition",
    "worklist_acknowledge", "worklist_snooze", "worklist_assign",
})
NO_LOCATION = frozenset({"inbound_sources_create"})

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {"description": "The request's id (yours when you sent a safe one, else "
                                    "a new one): quote it when reporting a problem.",
                     "schema": {"type": "string"}},
    "RateLimit": {"description": "Requests left in the current window and seconds until it "
                                 "resets (IETF RateLimit headers), e.g. `\"read\";r=99;t=60`. "
                                 "Sent once the caller is identified.",
                  "schema": {"type": "string"}},
    "RateLimit-Policy": {"description": "The quota that applies, e.g. `\"read\";q=100;w=60`.",
                         "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 1}},
    "ETag": {"description": "The version of what is returned, e.g. `\"v3\"`: send it as "
                            "If-Match to change it.", "schema": {"type": "string"}},
    "Location": {"description": "Where what was created can be read.",
                 "schema": {"type": "string"}},
}
PARAMETERS: dict[str, dict[str, Any]] = {
    "AcceptLanguage": {"name": "Accept-Language", "in": "header", "required": False,
                       "description": "`es` (default) or `en`: the language of problem "
                                      "details' `title` and `detail`.",
                       "schema": {"type": "string"}},
    "XRequestID": {"name": "X-Request-ID", "in": "header", "required": False,
                   "description": "Your id for this request, echoed back and logged: up to "
                                  "128 letters, digits, `.`, `_`, `:` or `-` (any other value "
                                  "is replaced by a new id).",
                   "schema": {"type": "string"}},
}


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": "#/components/headers/" + name}


def rule_for(method: str, path: str) -> Rule | None:
    concrete = path.replace("{", "x").replace("}", "x")
    for rule in POLICY:
        if method.upper() in rule.methods and rule.regex.match(concrete):
            return rule
    return None


def security_of(method: str, path: str, route: Route | None) -> list[dict[str, list[str]]]:
    """A person's bearer token, or a machine client's token with the route's scope; none
    on public routes."""
    if route is None or route.public:
        return []
    if path == "/oauth/token":
        return []
    rule = rule_for(method, path)
    scopes = [rule.scope] if rule is not None and rule.scope else []
    return [{"bearerAuth": []}, {"oauth2": scopes}]


def _who(method: str, path: str, route: Route | None) -> str:
    if route is None or route.public:
        return "**Who may call:** anyone, without a token."
    rule = rule_for(method, path)
    if rule is None:
        return "**Who may call:** nobody (no route policy)."
    roles = ", ".join(f"`{r.value}`" for r in sorted(rule.roles, key=lambda r: r.value))
    scope = f" Machine clients need the `{rule.scope}` scope." if rule.scope else ""
    return f"**Who may call:** {roles}.{scope}"


def _errors(responses: dict[str, Any]) -> str:
    lines = []
    for status in sorted(s for s in responses if s[:1] in ("4", "5")):
        code = int(status)
        own = responses[status].get("description") or ""
        meaning = own if own and own != status_title(code).en else \
            ERROR_MEANINGS.get(code, status_title(code).en)
        lines.append(f"- `{status}`: {meaning}")
    return "**Errors** (problem details):\n" + "\n".join(lines) if lines else ""


def describe(doc: dict[str, Any], routes: RouteTable) -> None:
    """Tags described, and on every operation: security, who may call it, its errors, the
    request headers it reads and the response headers it sends."""
    used = sorted({t for item in doc.get("paths", {}).values() for m, op in item.items()
                   if m in METHODS for t in op.get("tags", [])})
    doc["tags"] = [{"name": t, "description": TAGS.get(t, "")} for t in used]
    components = doc.setdefault("components", {})
    components.setdefault("headers", {}).update(HEADERS)
    components.setdefault("parameters", {}).update(PARAMETERS)
    for path, item in doc.get("paths", {}).items():
        route = routes.match(path.replace("{", "x").replace("}", "x"))
        for method, operation in item.items():
            if method not in METHODS:
                continue
            operation["security"] = security_of(method, path, route)
            text = operation.get("description") or ""
            parts = [text.strip(), _who(method, path, route),
                     _errors(operation.get("responses", {}))]
            operation["description"] = "\n\n".join(p for p in parts if p)
            parameters = operation.setdefault("parameters", [])
            for parameter in parameters:  # 428 without it: required, whatever FastAPI says
                if parameter.get("name") == "If-Match" and "428" in operation["responses"]:
                    parameter["required"] = True
            parameters.extend({"$ref": "#/components/parameters/" + name} for name in PARAMETERS)
            limited = (route is not None) or path == "/oauth/token"
            _declare_response_headers(operation, limited)


def _declare_response_headers(operation: dict[str, Any], limited: bool) -> None:
    op_id = operation.get("operationId", "")
    for status, response in operation.get("responses", {}).items():
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = _header_ref("X-Request-ID")
        if limited:
            headers["RateLimit"] = _header_ref("RateLimit")
            headers["RateLimit-Policy"] = _header_ref("RateLimit-Policy")
        if status in ("429", "503"):  # 503: a service or database down, retry soon
            headers["Retry-After"] = _header_ref("Retry-After")
        if status in ("200", "201") and op_id in SENDS_ETAG:
            headers["ETag"] = _header_ref("ETag")
        if status == "201" and op_id not in NO_LOCATION:
            headers["Location"] = _header_ref("Location")
