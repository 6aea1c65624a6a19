"""Structured JSON logs. Bodies, query strings and tokens are never logged: the people in
this system are vulnerable and logs travel further than databases."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_configured = False

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


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    global _configured
    lvl = getattr(logging, level.upper(), logging.INFO)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=lvl, stream=sys.stderr, format="%(message)s", force=True)
    # Framework loggers echo requests in their own formats; ours is the access log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internal call
    # Drivers and clients that log statements or requests with their parameters (aiosqlite
    # logs every call with its SQL *and values* at DEBUG: names, document numbers...).
    for name in _PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
    _configured = True
