"""The referrals service's problems: each carries its status (its base class) and its text
in Spanish and English (``shared.errors``, ``shared.i18n``)."""

from __future__ import annotations

from services.referrals.workflow import REFERRAL_PURPOSE
from shared.errors import Conflict, Forbidden, NotFound
from shared.i18n import Text


class ReferralNotFound(NotFound):
    code = "referral-not-found"
    detail_text = Text("La derivación no existe o no está a su alcance.",
                       "The referral does not exist or is outside your scope.")


class PathwayNotFound(NotFound):
    code = "pathway-not-found"
    detail_text = Text("La ruta no existe o no está a su alcance.",
                       "The pathway does not exist or is outside your scope.")


class ProgrammeNotFound(NotFound):
    code = "programme-not-found"
    detail_text = Text("El programa no existe.", "The programme does not exist.")


class ProviderNotFound(NotFound):
    code = "provider-not-found"
    detail_text = Text("El proveedor no existe.", "The provider does not exist.")


class ProfileNotFound(NotFound):
    code = "profile-not-found"
    detail_text = Text("El perfil no existe o no está a su alcance.",
                       "The profile does not exist or is outside your scope.")


class NoReferralData(Forbidden):
    code = "no-referral-data"
    detail_text = Text("Su rol no accede a datos de derivaciones.",
                       "Your role does not access referral data.")


class RoleNotAllowed(Forbidden):
    code = "role-not-allowed"


class ActionNotForRole(Forbidden):
    code = "action-not-allowed-for-role"
    detail_text = Text("Su rol no permite la acción «{action}» en esta derivación.",
                       "Your role does not allow the action '{action}' on this referral.")


class ConsentMissing(Conflict):
    code = "consent-required"
    detail_text = Text(
        "La persona no ha consentido compartir sus datos con «{recipient}» para una "
        "derivación (consentimiento de finalidad «referral» que nombre a esa organización "
        "receptora).",
        "The person has not consented to sharing their data with '{recipient}' for a "
        "referral (a consent for purpose 'referral' naming that recipient).")

    def __init__(self, recipient: str, programme: str) -> None:
        super().__init__(recipient=recipient, extra={"missing_consent": {
            "purpose": REFERRAL_PURPOSE, "recipient_organisation_id": recipient,
            "programme_id": programme}})


class ReferralAlreadyOpen(Conflict):
    code = "referral-already-open"
    detail_text = Text("La persona ya tiene una derivación abierta a este programa.",
                       "The person already has an open referral to this programme.")


class ProviderAtCapacity(Conflict):
    code = "provider-at-capacity"
    detail_text = Text("El proveedor no tiene cupos: {open} derivaciones abiertas de "
                       "{capacity}.",
                       "The provider is at capacity: {open} open referrals of {capacity}.")


class PathwayAlreadyLive(Conflict):
    code = "pathway-already-active"
    detail_text = Text("La persona ya tiene una ruta de este tipo en curso.",
                       "The person already has a pathway of this kind under way.")


class PathwayNotResumable(Conflict):
    code = "pathway-not-on-hold"
    detail_text = Text("Solo una ruta en espera puede reanudarse; su estado es «{status}».",
                       "Only a pathway on hold can be resumed; its state is '{status}'.")


class PathwayClosed(Conflict):
    code = "pathway-closed"
    detail_text = Text("La ruta ya terminó (estado «{status}»).",
                       "The pathway has ended (state '{status}').")


class StepNotOpened(Conflict):
    code = "step-not-opened"
    detail_text = Text("No se pudo abrir el paso: {why}.", "The step could not be opened: "
                                                           "{why}.")


class AlreadyExists(Conflict):
    code = "already-exists"
    detail_text = Text("Ya existe un elemento con el identificador «{id}».",
                       "An item with id '{id}' already exists.")


class ConcurrentWrite(Conflict):
    code = "concurrent-write"
    detail_text = Text("Otra solicitud modificó lo mismo a la vez; vuelva a leer y reintente.",
                       "Another request changed the same thing meanwhile; read again and "
                       "retry.")


PROFILE_FIELD = Text("Perfil no encontrado o fuera de su alcance",
                     "Profile not found or outside your scope")
