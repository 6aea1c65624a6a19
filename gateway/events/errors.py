"""Errors of the event feed, webhook subscriptions and inbound callbacks, with bilingual
text."""

from __future__ import annotations

from shared.errors import AppError, Conflict, InvalidCursor, NotFound, ValidationFailed
from shared.i18n import Text


class SubscriptionNotFound(NotFound):
    code = "subscription-not-found"
    detail_text = Text("La suscripción no existe o no está a su alcance.",
                       "The subscription does not exist or is outside your scope.")


class DeliveryNotFound(NotFound):
    code = "delivery-not-found"


class UnknownEventType(ValidationFailed):
    code = "unknown-event-type"


class InboundRejected(AppError):
    status = 401
    code = "inbound-signature"
    detail_text = Text("Firma, marca de tiempo o fuente no válidas.",
                       "Invalid signature, timestamp or source.")


class InboundInvalid(AppError):
    status = 422
    code = "inbound-invalid"
    detail_text = Text("El mensaje no se pudo aplicar: {reason}",
                       "The message could not be applied: {reason}")


class InboundInFlight(Conflict):
    code = "inbound-in-flight"
    detail_text = Text("Ese mensaje se está procesando.", "That message is being processed.")


class SubscriptionDisabled(Conflict):
    """A test ping to an endpoint its owner (or the delivery worker) switched off would be
    delivered all the same; enable the subscription first."""

    code = "subscription-disabled"
    detail_text = Text("La suscripción está desactivada; actívela antes de probarla.",
                       "The subscription is disabled; enable it before testing it.")


class LegacyCursorExpired(InvalidCursor):
    """A feed cursor from before cursors named their caller, presented after the transition
    window (RUTA_LEGACY_FEED_CURSORS_UNTIL): start again without a cursor."""

    detail_text = Text(
        "Los cursores del feed emitidos antes de vincularse a quien llama se aceptaron hasta "
        "el {until}; lea el feed sin cursor y descarte por event_id lo ya procesado.",
        "Feed cursors issued before they were bound to their caller were accepted until "
        "{until}; read the feed without a cursor and skip by event_id what you already "
        "processed.")
