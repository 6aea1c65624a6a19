"""One error format for every process: RFC 9457 problem details, Spanish unless asked otherwise.

Domain errors carry their own status and title (``class ReferralNotFound(AppError)``); one set
of handlers renders them, framework errors and crashes alike, so no route formats an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.i18n import VALIDATION_MESSAGES, Lang, Text, current_language, status_title
from shared.logging import exception_fields

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"

log = structlog.get_logger("ruta.errors")


class InvalidValue(ValueError):
    """A ValueError from a validator that knows how to say itself in both languages."""

    def __init__(self, text: Text, **params: object) -> None:
        super().__init__(text.en.format(**params) if params else text.en)
        self.text = text
        self.params = params


class AppError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[Text | None] = None
    detail_text: ClassVar[Text | None] = None

    def __init__(
        self,
        detail: Text | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        **params: object,
    ) -> None:
        super().__init__(self.code)
        self.detail = detail or self.detail_text
        self.params = params
        self.headers = headers or {}
        self.extra = extra or {}

    def problem(self, lang: Lang, instance: str | None = None) -> dict[str, Any]:
        title = self.title or status_title(self.status)
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": title.render(lang),
            "status": self.status,
            "detail": (self.detail or title).render(lang, **self.params),
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotFound(AppError):
    status = 404
    code = "not-found"
    detail_text = Text("El recurso no existe o no está a su alcance.",
                       "The resource does not exist or is outside your scope.")


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    detail_text = Text("Falta el token de acceso o no es válido.",
                       "The access token is missing or invalid.")

    def __init__(self, detail: Text | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="ruta"'})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    detail_text = Text("Su rol no permite esta operación.",
                       "Your role does not allow this operation.")


class Conflict(AppError):
    status = 409
    code = "conflict"


class PreconditionRequired(AppError):
    status = 428
    code = "precondition-required"
    detail_text = Text("Esta operación requiere la cabecera If-Match con el ETag actual.",
                       "This operation requires an If-Match header with the current ETag.")


class PreconditionFailed(AppError):
    status = 412
    code = "precondition-failed"
    detail_text = Text("El recurso cambió desde que lo leyó (ETag obsoleto); vuelva a leerlo.",
                       "The resource changed since you read it (stale ETag); read it again.")


class BadRequest(AppError):
    status = 400
    code = "bad-request"


class InvalidCursor(AppError):
    status = 400
    code = "invalid-cursor"
    detail_text = Text(
        "El cursor de paginación no es válido para esta lista, estos filtros o quien llama "
        "(cada cursor sirve solo a quien lo recibió).",
        "The pagination cursor is not valid for this list, these filters or this caller "
        "(a cursor works only for whoever received it).")


_INVALID_DATA = Text("Los datos enviados no son válidos.", "The submitted data is not valid.")


class ValidationFailed(AppError):
    """Domain-level validation with the same shape as pydantic's: an ``errors`` list."""

    status = 422
    code = "validation-error"
    detail_text = _INVALID_DATA

    def __init__(self, errors: list[tuple[str, Text]], **params: Any) -> None:
        super().__init__(**params)
        self.field_errors = errors

    def problem(self, lang: Lang, instance: str | None = None) -> dict[str, Any]:
        body = super().problem(lang, instance)
        body["errors"] = [
            {"field": f, "message": t.render(lang, **self.params)} for f, t in self.field_errors
        ]
        return body


class ServiceUnavailable(AppError):
    status = 503
    code = "service-unavailable"
    detail_text = Text("El servicio no está disponible; inténtelo más tarde.",
                       "The service is unavailable; try again later.")


class UpstreamTimeout(AppError):
    status = 504
    code = "upstream-timeout"
    detail_text = Text("El servicio no respondió a tiempo.", "The service did not answer in time.")


def problem_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def render_error(exc: AppError, lang: Lang | None = None) -> Response:
    return problem_response(exc.problem(lang or current_language()), exc.status, exc.headers)


def validation_errors(errors: Sequence[Any], lang: Lang) -> list[dict[str, str]]:
    """Pydantic errors as ``{field, message}`` without the rejected input, ever."""
    out = []
    for err in errors[:100]:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        field = ""
        for part in loc:
            field += f"[{part}]" if part.isdigit() else (f".{part}" if field else part)
        kind = err.get("type", "value_error")
        ctx = err.get("ctx") or {}
        cause = ctx.get("error")
        if isinstance(cause, InvalidValue):
            message = cause.text.render(lang, **cause.params)
        elif kind in VALIDATION_MESSAGES:
            try:
                message = VALIDATION_MESSAGES[kind].render(
                    lang, **{k: v for k, v in ctx.items() if k != "error"}
                )
            except (KeyError, IndexError):
                message = VALIDATION_MESSAGES[kind].render(lang)
        else:
            message = Text("Valor no válido", "Invalid value").render(lang)
        out.append({"field": field or "body", "message": message})
    return out


def validation_problem(errors: Sequence[Any], lang: Lang) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_BASE + "validation-error",
        "title": status_title(422).render(lang),
        "status": 422,
        "detail": _INVALID_DATA.render(lang),
        "errors": validation_errors(errors, lang),
    }


def http_problem(status: int, lang: Lang) -> dict[str, Any]:
    title = status_title(status).render(lang)
    return {"type": "about:blank", "title": title, "status": status, "detail": title}


# SQLSTATE classes of a database that is away rather than a request that is wrong:
# 08 connection exception, 57P operator intervention (admin/crash shutdown, "the database
# system is starting up"), 53300 too many connections.
_OUTAGE_SQLSTATES = ("08", "57P", "53300")


def is_database_outage(exc: BaseException) -> bool:
    """A driver error that means "the database is (re)starting or unreachable": retryable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str) and code.startswith(_OUTAGE_SQLSTATES):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


def install_error_handlers(app: FastAPI) -> None:
    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return render_error(exc)

    async def request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc.errors(), current_language()), 422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(http_problem(exc.status_code, current_language()),
                                exc.status_code, headers)

    async def stale(request: Request, exc: Exception) -> Response:
        # A concurrent writer won the race between our If-Match check and our UPDATE.
        return render_error(PreconditionFailed())

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # Pool exhausted, server restarting, connection lost: a retryable outage, not a bug.
        log.warning("database_unavailable", path=request.url.path, **exception_fields(exc))
        return render_error(ServiceUnavailable(headers={"Retry-After": "2"}))

    async def dbapi_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, sa_exc.DBAPIError) and (exc.connection_invalidated
                                                   or is_database_outage(exc)):
            return await database_unavailable(request, exc)
        return await unhandled(request, exc)

    async def unhandled(request: Request, exc: Exception) -> Response:
        # Classes, SQLSTATE, constraint and code locations go to the log (the request id is
        # bound by the middleware); never the exception's text or a rendered traceback: a
        # driver's message carries the row ("DETAIL: Key (email)=(...)") and SQLAlchemy's the
        # statement's parameters.
        log.error("unhandled_error", path=request.url.path, **exception_fields(exc))
        return problem_response(http_problem(500, current_language()), 500)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StaleDataError, stale)
    for kind in (sa_exc.TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError,
                 ConnectionError):
        app.add_exception_handler(kind, database_unavailable)
    app.add_exception_handler(sa_exc.DBAPIError, dbapi_error)
    app.add_exception_handler(Exception, unhandled)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status"],
    "example": {
        "type": "/problems/not-found",
        "title": "No encontrado",
        "status": 404,
        "detail": "El recurso no existe o no está a su alcance.",
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems an operation can answer."""
    return {
        s: {
            "description": status_title(s).en,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
