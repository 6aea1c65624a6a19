"""Spanish by default, English on request: the two languages of the people who read our errors."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal

Lang = Literal["es", "en"]
_lang: ContextVar[Lang] = ContextVar("ruta_lang", default="es")


def negotiate(accept_language: str | None) -> Lang:
    """Pick es or en from an Accept-Language header (RFC 9110 q-values); es unless en wins."""
    if not accept_language:
        return "es"
    best: tuple[float, Lang] = (0.0, "es")
    for part in accept_language.split(",")[:20]:
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("es", "en") and q > best[0]:
            best = (q, primary)  # type: ignore[assignment]
    return best[1]


def set_language(lang: Lang) -> None:
    _lang.set(lang)


def current_language() -> Lang:
    return _lang.get()


class Text:
    """A message in both languages; rendered in the request's language."""

    __slots__ = ("en", "es")

    def __init__(self, es: str, en: str) -> None:
        self.es = es
        self.en = en

    def render(self, lang: Lang | None = None, **params: object) -> str:
        template = self.en if (lang or current_language()) == "en" else self.es
        return template.format(**params) if params else template

    def __repr__(self) -> str:
        return f"Text({self.es!r})"


STATUS_TITLES: dict[int, Text] = {
    400: Text("Solicitud incorrecta", "Bad request"),
    401: Text("No autenticado", "Unauthenticated"),
    403: Text("Prohibido", "Forbidden"),
    404: Text("No encontrado", "Not found"),
    405: Text("Método no permitido", "Method not allowed"),
    406: Text("No aceptable", "Not acceptable"),
    409: Text("Conflicto", "Conflict"),
    410: Text("Ya no existe", "Gone"),
    412: Text("Precondición fallida", "Precondition failed"),
    413: Text("Contenido demasiado grande", "Content too large"),
    415: Text("Tipo de contenido no soportado", "Unsupported media type"),
    422: Text("Datos no válidos", "Invalid data"),
    428: Text("Se requiere precondición", "Precondition required"),
    429: Text("Demasiadas solicitudes", "Too many requests"),
    431: Text("Cabeceras demasiado grandes", "Request header fields too large"),
    500: Text("Error interno", "Internal error"),
    502: Text("Respuesta no válida del servicio", "Bad gateway"),
    503: Text("Servicio no disponible", "Service unavailable"),
    504: Text("El servicio no respondió a tiempo", "Gateway timeout"),
}


def status_title(status: int) -> Text:
    return STATUS_TITLES.get(status) or Text(f"Error {status}", f"Error {status}")


# Pydantic error types rendered for people. Never includes the rejected input: it may be
# a document number or a name, and problem bodies end up in partner logs.
VALIDATION_MESSAGES: dict[str, Text] = {
    "missing": Text("Campo obligatorio", "Field required"),
    "extra_forbidden": Text("Campo no permitido", "Field not allowed"),
    "json_invalid": Text("JSON mal formado", "Malformed JSON"),
    "model_attributes_type": Text("Se esperaba un objeto", "An object was expected"),
    "dict_type": Text("Se esperaba un objeto", "An object was expected"),
    "model_type": Text("Se esperaba un objeto", "An object was expected"),
    "list_type": Text("Se esperaba una lista", "A list was expected"),
    "string_type": Text("Se esperaba un texto", "A string was expected"),
    "int_type": Text("Se esperaba un número entero", "An integer was expected"),
    "int_parsing": Text("Se esperaba un número entero", "An integer was expected"),
    "float_type": Text("Se esperaba un número", "A number was expected"),
    "float_parsing": Text("Se esperaba un número", "A number was expected"),
    "decimal_parsing": Text("Se esperaba un número", "A number was expected"),
    "bool_type": Text("Se esperaba verdadero o falso", "A boolean was expected"),
    "bool_parsing": Text("Se esperaba verdadero o falso", "A boolean was expected"),
    "string_too_short": Text(
        "Debe tener al menos {min_length} caracteres", "Must have at least {min_length} characters"
    ),
    "string_too_long": Text(
        "Debe tener como máximo {max_length} caracteres",
        "Must have at most {max_length} characters",
    ),
    "too_short": Text(
        "Debe tener al menos {min_length} elementos", "Must have at least {min_length} items"
    ),
    "too_long": Text(
        "Debe tener como máximo {max_length} elementos", "Must have at most {max_length} items"
    ),
    "string_pattern_mismatch": Text("Formato no válido", "Invalid format"),
    "literal_error": Text("Debe ser uno de: {expected}", "Must be one of: {expected}"),
    "enum": Text("Debe ser uno de: {expected}", "Must be one of: {expected}"),
    "date_parsing": Text("Fecha no válida (AAAA-MM-DD)", "Invalid date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": Text("Fecha no válida (AAAA-MM-DD)", "Invalid date (YYYY-MM-DD)"),
    "date_type": Text("Fecha no válida (AAAA-MM-DD)", "Invalid date (YYYY-MM-DD)"),
    "datetime_parsing": Text("Fecha y hora no válidas", "Invalid datetime"),
    "datetime_from_date_parsing": Text("Fecha y hora no válidas", "Invalid datetime"),
    "uuid_parsing": Text("Identificador no válido", "Invalid identifier"),
    "uuid_type": Text("Identificador no válido", "Invalid identifier"),
    "greater_than": Text("Debe ser mayor que {gt}", "Must be greater than {gt}"),
    "greater_than_equal": Text("Debe ser mayor o igual que {ge}", "Must be at least {ge}"),
    "less_than": Text("Debe ser menor que {lt}", "Must be less than {lt}"),
    "less_than_equal": Text("Debe ser menor o igual que {le}", "Must be at most {le}"),
    "url_parsing": Text("URL no válida", "Invalid URL"),
    "url_scheme": Text("Esquema de URL no permitido", "URL scheme not allowed"),
    "value_error": Text("Valor no válido", "Invalid value"),
    "assertion_error": Text("Valor no válido", "Invalid value"),
}
