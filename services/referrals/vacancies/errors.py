"""The vacancies' problems, each with its status and its text in Spanish and English."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound
from shared.i18n import Text


class VacancyNotFound(NotFound):
    code = "vacancy-not-found"
    detail_text = Text("La vacante no existe o no está a su alcance.",
                       "The vacancy does not exist or is outside your scope.")


class NotAnEmploymentService(Forbidden):
    code = "not-an-employment-service"
    detail_text = Text(
        "Solo un servicio público de empleo del catálogo (un proveedor activo de un programa "
        "de tipo public_employment_service) publica vacantes.",
        "Only a public employment service of the catalogue (an active provider of a "
        "public_employment_service programme) posts vacancies.")


class VacancyNotOpen(Conflict):
    code = "vacancy-not-open"
    detail_text = Text("La vacante no está abierta (estado «{status}»): no admite "
                       "postulaciones.",
                       "The vacancy is not open (status '{status}'): it takes no "
                       "applications.")


class VacancyFinal(Conflict):
    code = "vacancy-closed"
    detail_text = Text("La vacante está cerrada y ya no se modifica.",
                       "The vacancy is closed and can no longer be changed.")
