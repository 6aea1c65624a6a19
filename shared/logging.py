"""Structured JSON logs. Bodies, query strings and tokens are never logged: the people in
this system are vulnerable and logs travel further than databases."""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import structlog

from shared.tracing import log_ids

_configured = False
# The level configure_logging set, for callers that skip building a line nobody will write
# (``enabled``); below it structlog's filtering logger drops the line anyway.
_min_level = logging.NOTSET

# Keys that must never reach a log line whatever a caller passes.
_FORBIDDEN_KEYS = {"body", "input", "password", "secret", "token", "authorization",
                   "client_secret", "query", "email", "phone", "document_number", "name"}


# Third-party loggers whose DEBUG/INFO lines carry statement parameters or request data.
_PARAMETER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool",
                      "httpcore", "httpx", "aiohttp.access", "aiohttp.client", "hpack",
                      "multipart", "python_multipart", "redis")


def _scrub(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in _FORBIDDEN_KEYS:
            event[key] = "[redacted]"
    return event


# What an exception may say in a log line. Never its message: a driver's text carries values
# (PostgreSQL's "DETAIL: Key (email)=(...)", "Failing row contains (...)", a trigger's RAISE
# with the row; SQLAlchemy's "[parameters: ...]"), and so may any ValueError or KeyError.
_MAX_FRAMES = 12


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """An exception as log fields that hold no data: its class and the classes it wraps, the
    SQLSTATE and constraint name a database gave, and where it was raised (file:line
    function of the innermost frames — code locations, never locals or messages)."""
    chain: list[str] = []
    sqlstate = constraint = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < 8:
        seen.add(id(current))
        chain.append(type(current).__name__)
        sqlstate = sqlstate or _str_attr(current, "sqlstate", "pgcode")
        constraint = constraint or _str_attr(current, "constraint_name")
        diag = getattr(current, "diag", None)  # psycopg
        constraint = constraint or _str_attr(diag, "constraint_name")
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    fields: dict[str, Any] = {"exc_type": chain[0], "exc_chain": chain,
                              "where": _frames(exc.__traceback__)}
    if sqlstate:
        fields["sqlstate"] = sqlstate
    if constraint:
        fields["constraint"] = constraint
    return fields


def _str_attr(obj: Any, *names: str) -> str | None:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, str) and value:
            return value[:63]  # an SQLSTATE or a PostgreSQL identifier, nothing longer
    return None


def _frames(tb: TracebackType | None) -> list[str]:
    """The project's frames (the innermost ones) and the library frame that raised."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if "site-packages" not in f.filename][-_MAX_FRAMES:]
    if frames and (not ours or ours[-1] is not frames[-1]):
        ours.append(frames[-1])
    return [f"{_short(f.filename)}:{f.lineno} {f.name}" for f in ours]


_PROJECT = str(Path(__file__).resolve().parent.parent) + "/"


def _short(filename: str) -> str:
    """A file relative to the project or to site-packages (no host paths in the log)."""
    if filename.startswith(_PROJECT):
        return filename[len(_PROJECT):]
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1:])
    return "/".join(parts[-2:])


def exception_summary(exc: BaseException) -> str:
    """One line naming an exception without its message (for a command's error output)."""
    f = exception_fields(exc)
    extra = "".join(f" {k}={f[k]}" for k in ("sqlstate", "constraint") if k in f)
    return f"{' <- '.join(f['exc_chain'])}{extra} at {' > '.join(f['where'][-2:]) or '?'}"


def exception_text(exc_info: Any) -> str:
    """One line for an exception a log record carries (see :func:`exception_fields`)."""
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if not isinstance(exc, BaseException):
        return ""
    return f"exception {exception_summary(exc)} (message withheld: it may hold data)"


def _safe_exc_info(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog: ``exc_info`` becomes :func:`exception_fields`, never a rendered traceback."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if isinstance(exc, BaseException):
        for key, value in exception_fields(exc).items():
            event.setdefault(key, value)
    event.pop("stack_info", None)
    return event


class SafeFormatter(logging.Formatter):
    """Other libraries' records (uvicorn's "Exception in ASGI application", SQLAlchemy's pool)
    keep their message; the traceback they attach is reduced to :func:`exception_text`."""

    def formatException(self, ei: Any) -> str:
        return exception_text(ei)

    def formatStack(self, stack_info: str) -> str:
        return ""


class JsonFormatter(SafeFormatter):
    """Other libraries' records as one JSON object a line, like ours (uvicorn's "Started
    server process", "Shutting down", its errors): the message, the logger, the request and
    trace ids of the moment, and an exception as :func:`exception_fields` — never its text."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {"event": record.getMessage(), "logger": record.name}
        event.update(structlog.contextvars.get_contextvars())
        if record.exc_info and isinstance(record.exc_info[1], BaseException):
            for key, value in exception_fields(record.exc_info[1]).items():
                event.setdefault(key, value)
        log_ids(None, "", event)
        event["level"] = record.levelname.lower()
        event["timestamp"] = datetime.fromtimestamp(record.created, UTC).isoformat() \
            .replace("+00:00", "Z")
        return orjson.dumps(_scrub(None, "", event), default=str).decode()


def enabled(level: int) -> bool:
    """Whether a line at ``level`` would be written. Asking first skips structlog's lazy
    logger, which binds a new logger at every call even for a line it then drops (1.5% of
    the gateway's CPU per forwarded request, py-spy 2026-12-05)."""
    return level >= _min_level


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    global _configured, _min_level
    lvl = getattr(logging, level.upper(), logging.INFO)
    _min_level = lvl
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub,
        _safe_exc_info,
        log_ids,
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json else SafeFormatter("%(message)s"))
    logging.basicConfig(level=lvl, handlers=[handler], force=True)
    # uvicorn installed its own handlers before loading the app; they would render the
    # traceback of an exception leaving the app ("Exception in ASGI application") with the
    # driver's text. Its records go through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Framework loggers echo requests in their own formats; ours is the access log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internal call
    # Drivers and clients that log statements or requests with their parameters (aiosqlite
    # logs every call with its SQL *and values* at DEBUG: names, document numbers...).
    for name in _PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
    _configured = True
