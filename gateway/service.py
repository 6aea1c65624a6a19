"""Gateway use cases: organisations, machine clients, tokens. Each owns its transaction."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.models import Client, Organisation
from gateway.policy import SCOPES_BY_ROLE
from gateway.repository import GatewayRepository
from gateway.schemas import (
    ClientCreate,
    ClientOut,
    ClientWithSecret,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    TokenResponse,
    regions_fit_country,
)
from gateway.tokens import KeyStore
from shared.clock import as_utc, utcnow
from shared.concurrency import ExpectedVersion
from shared.db import Database
from shared.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from shared.i18n import Text
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity, Role
from shared.pagination import CursorCodec, Page
from shared.settings import Settings

_hasher = PasswordHasher()
# Verified against when the client does not exist, so timing does not reveal which ids exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


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


def _require_admin(identity: Identity) -> None:
    if identity.role is not Role.ADMIN:
        raise Forbidden()


def new_secret() -> str:
    return "rsec_" + secrets.token_urlsafe(32)


async def hash_secret(secret: str) -> str:
    return await asyncio.to_thread(_hasher.hash, secret)


async def _matches(secret: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return await asyncio.to_thread(_hasher.verify, hashed, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- organisations ------------------------------------------------------------------------

async def create_organisation(*, db: Database, identity: Identity, data: OrganisationCreate,
                              idempotency: IdempotencyKey | None) -> StoredResponse:
    _require_admin(identity)
    if not regions_fit_country(data.regions, data.country):
        raise ValidationFailed([("regions", Text("Las regiones deben ser del país indicado",
                                                 "Regions must belong to the country"))])
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        repo = GatewayRepository(uow.session)
        if await repo.organisation(data.id) is not None:
            raise OrganisationExists()
        org = Organisation(**data.model_dump(), status="active")
        repo.add(org)
        await uow.session.flush()
        out = OrganisationOut.model_validate(org)
        stored = await uow.remember(idempotency, status_code=201,
                                    body=out.model_dump(mode="json"),
                                    headers={"ETag": f'"v{org.version}"',
                                             "Location": f"/v1/organisations/{org.id}"})
        await uow.commit()
        return stored


async def get_organisation(*, db: Database, identity: Identity, organisation_id: str
                           ) -> OrganisationOut:
    _require_admin(identity)
    async with db.uow() as uow:
        org = await GatewayRepository(uow.session).organisation(organisation_id)
        if org is None:
            raise OrganisationNotFound()
        return OrganisationOut.model_validate(org)


async def list_organisations(*, db: Database, identity: Identity, cursors: CursorCodec,
                             limit: int, cursor: str | None) -> Page[OrganisationOut]:
    _require_admin(identity)
    after = cursors.decode(cursor, "organisations", {})[0] if cursor else None
    async with db.uow() as uow:
        rows = await GatewayRepository(uow.session).organisations(after=after, limit=limit + 1)
        items = [OrganisationOut.model_validate(o) for o in rows[:limit]]
    nxt = cursors.encode("organisations", {}, [items[-1].id]) if len(rows) > limit else None
    return Page(items=items, next_cursor=nxt)


async def update_organisation(*, db: Database, identity: Identity, organisation_id: str,
                              data: OrganisationUpdate, expected: ExpectedVersion
                              ) -> OrganisationOut:
    _require_admin(identity)
    async with db.uow() as uow:
        org = await GatewayRepository(uow.session).organisation(organisation_id)
        if org is None:
            raise OrganisationNotFound()
        expected.check(org.version)
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        if "regions" in changes and not regions_fit_country(changes["regions"], org.country):
            raise ValidationFailed([("regions", Text("Las regiones deben ser del país indicado",
                                                     "Regions must belong to the country"))])
        for key, value in changes.items():
            setattr(org, key, sorted(set(value)) if key == "regions" else value)
        await uow.session.flush()
        out = OrganisationOut.model_validate(org)
        await uow.commit()
        return out


# --- machine clients ----------------------------------------------------------------------

class InvalidClientSpec(ValidationFailed):
    code = "invalid-client"


async def create_client(*, db: Database, identity: Identity, data: ClientCreate
                        ) -> ClientWithSecret:
    """Secrets are shown once, so this write is not replayable by Idempotency-Key: a replay
    would have to store the secret in clear."""
    _require_admin(identity)
    allowed_scopes = SCOPES_BY_ROLE.get(data.role)
    if allowed_scopes is None or data.role in (Role.CASEWORKER, Role.COORDINATOR):
        raise InvalidClientSpec([("role", Text("Rol no válido para un cliente de máquina",
                                               "Role not valid for a machine client"))])
    scopes = sorted(set(data.scopes) if data.scopes is not None else allowed_scopes)
    if not set(scopes) <= allowed_scopes:
        raise InvalidClientSpec([("scopes", Text("Alcances no permitidos para el rol",
                                                 "Scopes not allowed for the role"))])
    if (data.role is Role.ADMIN) != (data.organisation_id is None):
        raise InvalidClientSpec([("organisation_id", Text(
            "Obligatorio salvo para clientes administradores",
            "Required except for admin clients"))])
    secret = new_secret()
    secret_hash = await hash_secret(secret)
    async with db.uow() as uow:
        repo = GatewayRepository(uow.session)
        if data.organisation_id is not None:
            org = await repo.organisation(data.organisation_id)
            if org is None:
                raise InvalidClientSpec([("organisation_id", Text(
                    "La organización no existe", "The organisation does not exist"))])
            if not set(data.regions) <= set(org.regions):
                raise InvalidClientSpec([("regions", Text(
                    "Regiones fuera de las de la organización",
                    "Regions outside the organisation's"))])
        client = Client(id="cli_" + secrets.token_hex(8), organisation_id=data.organisation_id,
                        name=data.name, role=data.role.value, scopes=scopes,
                        regions=sorted(set(data.regions)), secret_hash=secret_hash,
                        status="active", created_by=identity.subject)
        repo.add(client)
        await uow.session.flush()
        out = ClientWithSecret(**ClientOut.model_validate(client).model_dump(),
                               client_secret=secret)
        await uow.commit()
        return out


async def _client_for_update(repo: GatewayRepository, client_id: str,
                             expected: ExpectedVersion) -> Client:
    client = await repo.client(client_id)
    if client is None:
        raise ClientNotFound()
    expected.check(client.version)
    return client


async def get_client(*, db: Database, identity: Identity, client_id: str) -> ClientOut:
    _require_admin(identity)
    async with db.uow() as uow:
        client = await GatewayRepository(uow.session).client(client_id)
        if client is None:
            raise ClientNotFound()
        return ClientOut.model_validate(client)


async def list_clients(*, db: Database, identity: Identity, cursors: CursorCodec,
                       organisation_id: str | None, limit: int, cursor: str | None
                       ) -> Page[ClientOut]:
    _require_admin(identity)
    filters = {"organisation_id": organisation_id}
    after = cursors.decode(cursor, "clients", filters)[0] if cursor else None
    async with db.uow() as uow:
        rows = await GatewayRepository(uow.session).clients(
            organisation_id=organisation_id, after=after, limit=limit + 1)
        items = [ClientOut.model_validate(c) for c in rows[:limit]]
    nxt = cursors.encode("clients", filters, [items[-1].client_id]) if len(rows) > limit \
        else None
    return Page(items=items, next_cursor=nxt)


async def rotate_client_secret(*, db: Database, identity: Identity, settings: Settings,
                               client_id: str, expected: ExpectedVersion) -> ClientWithSecret:
    """The old secret keeps working for the overlap period, so partners can roll over."""
    _require_admin(identity)
    secret = new_secret()
    secret_hash = await hash_secret(secret)
    async with db.uow() as uow:
        client = await _client_for_update(GatewayRepository(uow.session), client_id, expected)
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = utcnow() + timedelta(
            hours=settings.client_secret_overlap_hours)
        client.secret_hash = secret_hash
        await uow.session.flush()
        out = ClientWithSecret(**ClientOut.model_validate(client).model_dump(),
                               client_secret=secret)
        await uow.commit()
        return out


async def set_client_status(*, db: Database, identity: Identity, keys: KeyStore,
                            client_id: str, status: str, expected: ExpectedVersion
                            ) -> ClientOut:
    _require_admin(identity)
    async with db.uow() as uow:
        client = await _client_for_update(GatewayRepository(uow.session), client_id, expected)
        client.status = status
        if status != "active":
            client.previous_secret_hash = None
            client.previous_secret_expires_at = None
        await uow.session.flush()
        out = ClientOut.model_validate(client)
        await uow.commit()
    await keys.refresh(force=True)  # its outstanding tokens stop working here at once
    return out


async def ensure_bootstrap_admin(*, db: Database, settings: Settings) -> bool:
    """The operator's first way in. Created once; a restart never re-enables or re-keys it."""
    client_id = settings.bootstrap_admin_client_id
    secret = settings.bootstrap_admin_client_secret
    if not client_id or not secret:
        return False
    async with db.uow() as uow:
        repo = GatewayRepository(uow.session)
        if await repo.client(client_id) is not None:
            return False
        repo.add(Client(id=client_id, organisation_id=None, name="Bootstrap administrator",
                        role=Role.ADMIN.value, scopes=sorted(SCOPES_BY_ROLE[Role.ADMIN]),
                        regions=[], secret_hash=await hash_secret(secret), status="active",
                        created_by="bootstrap"))
        await uow.commit()
        return True


# --- tokens -------------------------------------------------------------------------------

async def issue_token(*, db: Database, keys: KeyStore, settings: Settings, client_id: str,
                      client_secret: str, requested_scope: str | None,
                      used_basic: bool) -> TokenResponse:
    invalid_client = OAuthError(
        "invalid_client", "Client authentication failed.", 401,
        headers={"WWW-Authenticate": 'Basic realm="ruta"'} if used_basic else None)
    async with db.uow() as uow:
        repo = GatewayRepository(uow.session)
        client = await repo.client(client_id) if len(client_id) <= 64 else None
        if client is None:
            await _matches(client_secret, _DUMMY_HASH)
            raise invalid_client
        ok = await _matches(client_secret, client.secret_hash)
        if not ok and client.previous_secret_expires_at is not None \
                and as_utc(client.previous_secret_expires_at) > utcnow():
            ok = await _matches(client_secret, client.previous_secret_hash)
        if not ok or client.status != "active":
            raise invalid_client
        org = await repo.organisation(client.organisation_id) if client.organisation_id \
            else None
        if client.organisation_id is not None and (org is None or org.status != "active"):
            raise OAuthError("unauthorized_client", "The client's organisation is not active.")
        regions = client.regions or (org.regions if org else [])
        scopes = set(client.scopes)
        if requested_scope:
            asked = set(requested_scope.split())
            if not asked <= scopes:
                raise OAuthError("invalid_scope", "The requested scope exceeds the client's.")
            scopes = asked
    identity = Identity(subject=client.id, role=Role(client.role),
                        organisation_id=client.organisation_id, regions=frozenset(regions),
                        kind="client", scopes=frozenset(scopes))
    token = keys.mint(identity, scopes=sorted(scopes))
    return TokenResponse(access_token=token, expires_in=settings.access_token_ttl_seconds,
                         scope=" ".join(sorted(scopes)))
