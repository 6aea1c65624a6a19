"""What the front door refuses before any route runs, as problems with bilingual text."""

from __future__ import annotations

from shared.errors import AppError, Forbidden
from shared.i18n import Text


class BodyTooLarge(AppError):
    status = 413
    code = "body-too-large"
    detail_text = Text("El cuerpo de la solicitud supera el tamaño máximo ({limit} bytes).",
                       "The request body exceeds the maximum size ({limit} bytes).")


class HeadersTooLarge(AppError):
    status = 431
    code = "headers-too-large"
    detail_text = Text("Las cabeceras de la solicitud son demasiado grandes.",
                       "The request headers are too large.")


class RateLimited(AppError):
    status = 429
    code = "rate-limited"
    detail_text = Text("Demasiadas solicitudes; espere {retry_after} s antes de reintentar.",
                       "Too many requests; wait {retry_after} s before retrying.")


class RouteForbidden(Forbidden):
    code = "forbidden"
