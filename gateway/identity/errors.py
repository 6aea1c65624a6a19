"""Errors of organisations, machine clients and the token endpoint, with bilingual text."""

from __future__ import annotations

from shared.errors import AppError, Conflict, NotFound, ValidationFailed
from shared.i18n import Text


class OrganisationNotFound(NotFound):
    code = "organisation-not-found"
    detail_text = Text("La organización no existe.", "The organisation does not exist.")


class ClientNotFound(NotFound):
    code = "client-not-found"
    detail_text = Text("El cliente no existe.", "The client does not exist.")


class OrganisationExists(Conflict):
    code = "organisation-exists"
    detail_text = Text("Ya existe una organización con ese identificador.",
                       "An organisation with that id already exists.")


class InvalidClientSpec(ValidationFailed):
    code = "invalid-client"


class OAuthError(AppError):
    """RFC 6749 section 5.2 errors: rendered in OAuth's own JSON shape, not as problems."""

    status = 400
    code = "invalid_request"

    def __init__(self, error: str, description: str, status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(headers=headers)
        self.error = error
        self.description = description
        self.status_code = status
