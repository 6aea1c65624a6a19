"""Machine-client use cases (OAuth2 client credentials; admin only). Each owns its
transaction. Secrets are shown once and stored only as hashes (``client_secrets``)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from gateway.edge.policy import SCOPES_BY_ROLE
from gateway.identity.access import require_admin
from gateway.identity.client_secrets import hash_secret, new_client_secret
from gateway.identity.errors import ClientNotFound, InvalidClientSpec
from gateway.identity.keys import KeyStore
from gateway.identity.models import Client
from gateway.identity.repository import IdentityRepository
from gateway.identity.schemas import ClientCreate, ClientOut, ClientWithSecret
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion
from shared.db import Database
from shared.i18n import Text
from shared.identity import Identity, Role
from shared.pagination import CursorCodec, Page
from shared.settings import Settings


def _checked_scopes(data: ClientCreate) -> list[str]:
    """The scopes a new client gets: its role's, or the narrower set asked for. Refuses a
    role people hold (a machine never acts as a caseworker) and a misplaced organisation."""
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
    return scopes


async def create_client(*, db: Database, identity: Identity, data: ClientCreate
                        ) -> ClientWithSecret:
    """Secrets are shown once, so this write is not replayable by Idempotency-Key: a replay
    would have to store the secret in clear."""
    require_admin(identity)
    scopes = _checked_scopes(data)
    secret = new_client_secret()
    secret_hash = await hash_secret(secret)
    async with db.uow() as uow:
        repo = IdentityRepository(uow.session)
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


async def _client_for_update(repo: IdentityRepository, client_id: str,
                             expected: ExpectedVersion) -> Client:
    client = await repo.client(client_id)
    if client is None:
        raise ClientNotFound()
    expected.check(client.version)
    return client


async def get_client(*, db: Database, identity: Identity, client_id: str) -> ClientOut:
    require_admin(identity)
    async with db.uow() as uow:
        client = await IdentityRepository(uow.session).client(client_id)
        if client is None:
            raise ClientNotFound()
        return ClientOut.model_validate(client)


async def list_clients(*, db: Database, identity: Identity, cursors: CursorCodec,
                       organisation_id: str | None, limit: int, cursor: str | None
                       ) -> Page[ClientOut]:
    require_admin(identity)
    filters = {"organisation_id": organisation_id}
    after = cursors.decode(cursor, "clients", filters, caller=identity)[0] if cursor else None
    async with db.uow() as uow:
        rows = await IdentityRepository(uow.session).clients(
            organisation_id=organisation_id, after=after, limit=limit + 1)
        items = [ClientOut.model_validate(c) for c in rows[:limit]]
    nxt = (cursors.encode("clients", filters, [items[-1].client_id], caller=identity)
           if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def rotate_client_secret(*, db: Database, identity: Identity, settings: Settings,
                               client_id: str, expected: ExpectedVersion) -> ClientWithSecret:
    """The old secret keeps working for the overlap period, so partners can roll over."""
    require_admin(identity)
    secret = new_client_secret()
    secret_hash = await hash_secret(secret)
    async with db.uow() as uow:
        client = await _client_for_update(IdentityRepository(uow.session), client_id, expected)
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
    require_admin(identity)
    async with db.uow() as uow:
        client = await _client_for_update(IdentityRepository(uow.session), client_id, expected)
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
        repo = IdentityRepository(uow.session)
        if await repo.client(client_id) is not None:
            return False
        repo.add(Client(id=client_id, organisation_id=None, name="Bootstrap administrator",
                        role=Role.ADMIN.value, scopes=sorted(SCOPES_BY_ROLE[Role.ADMIN]),
                        regions=[], secret_hash=await hash_secret(secret), status="active",
                        created_by="bootstrap"))
        await uow.commit()
        return True
