"""The problems the credentials use cases answer: each with its status, code and both texts."""

from __future__ import annotations

from services.credentials.clients import SHARING_PURPOSE
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.i18n import Text


class CredentialNotFound(NotFound):
    code = "credential-not-found"
    detail_text = Text("La credencial no existe o no está a su alcance.",
                       "The credential does not exist or is outside your scope.")


class ProfileNotFound(ValidationFailed):
    code = "profile-not-found"
    detail_text = Text("El perfil no existe o no está a su alcance.",
                       "The profile does not exist or is outside your scope.")

    def __init__(self) -> None:
        super().__init__([("profile_id", Text("Perfil no encontrado", "Profile not found"))])


class CredentialNotVouched(Conflict):
    code = "credential-not-verified"
    detail_text = Text(
        "Solo se exporta una credencial verificada con el emisor o reconocida; "
        "su estado es «{status}».",
        "Only a credential verified with its issuer or recognised can be exported; "
        "its state is '{status}'.")


class CredentialExpired(Conflict):
    code = "credential-expired"
    detail_text = Text("La credencial venció el {expires_on}; no se puede exportar.",
                       "The credential expired on {expires_on}; it cannot be exported.")


class ConsentRequired(Conflict):
    code = "consent-required"
    detail_text = Text(
        "La persona no ha dado su consentimiento para compartir sus credenciales "
        "(finalidad «credential_sharing»).",
        "The person has not consented to sharing their credentials "
        "(purpose 'credential_sharing').")

    def __init__(self) -> None:
        super().__init__(extra={"missing_consent": SHARING_PURPOSE})


class RecognitionNotApplicable(Conflict):
    code = "recognition-not-applicable"
    detail_text = Text("El reconocimiento solo se aplica a títulos académicos y licencias "
                       "profesionales.",
                       "Recognition applies only to academic degrees and professional "
                       "licences.")


class ActionNotForRole(Forbidden):
    code = "action-not-allowed-for-role"
    detail_text = Text("Su rol no permite la acción «{action}».",
                       "Your role does not allow the action '{action}'.")


class StatusListNotFound(NotFound):
    code = "status-list-not-found"
    detail_text = Text("La lista de estado no existe.", "The status list does not exist.")


class RecognitionAuthorityRequired(Forbidden):
    code = "recognition-authority-required"
    detail_text = Text(
        "Solo la autoridad que reconoció la credencial (su organización, p. ej. SUNEDU) o un "
        "administrador puede suspender o revocar un reconocimiento.",
        "Only the authority that recognised the credential (its organisation, e.g. SUNEDU) "
        "or an administrator may suspend or revoke a recognition.")


class UnknownRecognisingAuthority(ValidationFailed):
    code = "unknown-recognising-authority"

    def __init__(self) -> None:
        super().__init__([("recognition.body", Text(
            "El catálogo no tiene un proveedor de reconocimiento de títulos con ese código "
            "de organismo",
            "The catalogue has no degree-recognition provider with that authority code"))])
