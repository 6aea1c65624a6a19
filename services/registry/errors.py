"""The registry's errors, each with its status and bilingual text, and the field messages its
use cases attach to validation errors."""

from __future__ import annotations

from shared.errors import AppError, Conflict, Forbidden, NotFound
from shared.i18n import Text


class ProfileNotFound(NotFound):
    """``profile_id``: the id the caller was refused (never shown to them), for the owner's
    access-denial audit; None: the id in the route."""

    code = "profile-not-found"
    detail_text = Text("El perfil no existe o no está a su alcance.",
                       "The profile does not exist or is outside your scope.")

    def __init__(self, *, profile_id: str | None = None) -> None:
        super().__init__()
        self.profile_id = profile_id


class ConsentNotFound(NotFound):
    code = "consent-not-found"
    detail_text = Text("El consentimiento no existe o no está a su alcance.",
                       "The consent does not exist or is outside your scope.")


class ProfileErased(AppError):
    status = 410
    code = "profile-erased"
    detail_text = Text("Los datos de esta persona fueron cancelados (derecho ARCO).",
                       "This person's data was cancelled (ARCO right).")


class ProfileMerged(AppError):
    """The merged id answers with a pointer to the profile it was merged into."""

    status = 308
    code = "profile-merged"
    title = Text("Perfil fusionado", "Profile merged")
    detail_text = Text("Este perfil se fusionó con otro; use el perfil indicado en Location.",
                       "This profile was merged into another; use the one in Location.")

    def __init__(self, survivor_id: str) -> None:
        super().__init__(headers={"Location": f"/v1/profiles/{survivor_id}"},
                         extra={"merged_into": survivor_id})


class NoProfileData(Forbidden):
    code = "no-profile-data"
    detail_text = Text("Su rol no accede a datos de personas.",
                       "Your role does not access people's data.")


class RoleNotAllowed(Forbidden):
    code = "role-not-allowed"


class NotOwner(Forbidden):
    code = "not-owning-organisation"
    detail_text = Text("Solo la organización que registró a la persona puede hacer esto.",
                       "Only the organisation that registered the person can do this.")


class RegionOutsideScope(Forbidden):
    code = "region-outside-scope"
    detail_text = Text("No puede registrar personas fuera de sus regiones.",
                       "You cannot register people outside your regions.")


class SensitiveNotPermitted(Forbidden):
    code = "sensitive-permission-required"
    detail_text = Text("Los datos sensibles requieren el permiso sensitive:read.",
                       "Sensitive data needs the sensitive:read permission.")


class DuplicateDocument(Conflict):
    code = "duplicate-document"
    detail_text = Text("Ya existe una persona registrada con este documento.",
                       "A person with this document is already registered.")


class DuplicateDocumentVisible(DuplicateDocument):
    detail_text = Text("Ya existe una persona registrada con este documento: {location}.",
                       "A person with this document is already registered: {location}.")


class ConsentNotGranted(Conflict):
    code = "consent-not-withdrawable"
    detail_text = Text("Solo un consentimiento otorgado y vigente puede retirarse.",
                       "Only a granted, unexpired consent can be withdrawn.")


class MergeNotPossible(Conflict):
    code = "merge-not-possible"
    detail_text = Text("Solo se fusionan dos perfiles activos y distintos de su organización.",
                       "Only two distinct active profiles of your organisation can be merged.")


class BatchConflict(Conflict):
    code = "concurrent-write"
    detail_text = Text("Otra solicitud registró los mismos documentos a la vez; reintente.",
                       "Another request registered the same documents meanwhile; retry.")


# --- field messages (validation errors of one item or field) ------------------------------
SENSITIVE_CONSENT_REQUIRED = Text(
    "Los datos sensibles requieren un consentimiento de registro otorgado, por escrito, que "
    "cubra datos sensibles (Ley 29733)",
    "Sensitive data needs a granted, written registration consent covering sensitive data "
    "(Ley 29733)")
REPEATED_DOCUMENT = Text("Documento repetido en la misma solicitud",
                         "The same document appears twice in the request")
PHONE_DROPPED = Text("Teléfono no válido: la persona se registró sin teléfono",
                     "Invalid phone: the person was registered without it")
REGION_OUTSIDE_SCOPE = Text("Región fuera de su ámbito", "Region outside your scope")
SENSITIVE_PERMISSION_REQUIRED = Text("Los datos sensibles requieren el permiso sensitive:read",
                                     "Sensitive data needs the sensitive:read permission")
BAD_PHONE_FOR_REGION = Text("Teléfono no válido para la región del perfil",
                            "Invalid phone for the profile's region")
DISTRICT_STALE = Text("Al cambiar la región envíe también el distrito (o null)",
                      "When changing the region, send the district too (or null)")
AUDIT_FOR_COORDINATORS = Text("Solo coordinadores leen la auditoría.",
                              "Only coordinators read the audit log.")


UNKNOWN_PROGRAMME = Text("El catálogo de rutas no tiene ese programa",
                         "The route catalogue has no such programme")


class TransferConsentRequired(Conflict):
    code = "transfer-consent-required"
    detail_text = Text(
        "La persona no ha otorgado (o retiró) el consentimiento «transfer» para el despliegue "
        "{deployment}: no se prepara su expediente portable.",
        "The person has not granted (or has withdrawn) the 'transfer' consent for deployment "
        "{deployment}: no portable record is prepared.")


class UnknownDeployment(AppError):
    status = 422
    code = "unknown-deployment"
    detail_text = Text("{deployment} no es un despliegue de confianza (RUTA_PEER_DEPLOYMENTS).",
                       "{deployment} is not a trusted deployment (RUTA_PEER_DEPLOYMENTS).")


class DeploymentUnreachable(AppError):
    status = 503
    code = "deployment-unreachable"
    detail_text = Text("No se pudo obtener la clave de cifrado del despliegue {deployment}; "
                       "reintente más tarde.",
                       "Could not fetch the encryption key of deployment {deployment}; retry "
                       "later.")


class BundleRefused(AppError):
    """The bundle is not imported, and nothing is written: ``reason`` says why."""

    status = 422
    code = "bundle-refused"
    detail_text = Text("El expediente portable no se importó: {reason}.",
                       "The portable record was not imported: {reason}.")

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason, extra={"reason": reason})


class TransferNotFound(NotFound):
    code = "transfer-not-found"
    detail_text = Text("No hay un expediente portable enviado con ese id a ese despliegue.",
                       "No portable record was sent with that id to that deployment.")
class WorklistItemNotFound(NotFound):
    code = "worklist-item-not-found"
    detail_text = Text("El elemento no existe o no está a su alcance.",
                       "The item does not exist or is outside your scope.")
