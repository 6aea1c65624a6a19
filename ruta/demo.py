"""Demo data for the embedded shape: organisations, identities and a few realistic profiles.

Idempotent: profiles go through the registry's own use case with fixed idempotency keys, so
a second ``make run`` replays instead of duplicating.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from gateway.identity.models import Organisation
from services.referrals.usecases.catalogue import seed_catalogue
from services.registry import usecases as registry
from services.registry.crypto import SensitiveCipher
from services.registry.schemas import PopulationType, ProfileCreate, Sex
from shared.db import Database
from shared.idempotency import IdempotencyKey
from shared.identity import Identity, Role
from shared.peers import Peers
from shared.settings import Settings

ORGANISATIONS: list[dict[str, Any]] = [
    {"id": "ong-lima", "name": "Asociación Manos Unidas por Venezuela (demo)", "kind": "ngo",
     "country": "PE", "regions": ["PE-LMA", "PE-CAL"]},
    {"id": "mtpe-empleo", "name": "Centro de Empleo Lima (demo)",
     "kind": "public_employment_service", "country": "PE", "regions": ["PE-LMA", "PE-CAL"]},
    {"id": "sunedu", "name": "SUNEDU (demo)", "kind": "ministry", "country": "PE",
     "regions": ["PE-LMA", "PE-CAL", "PE-CUS", "PE-LAL", "PE-LAM", "PE-PIU"]},
    {"id": "ong-quito", "name": "Fundación Camino Nuevo (demo)", "kind": "ngo",
     "country": "EC", "regions": ["EC-P"]},
]

IDENTITIES: dict[str, dict[str, Any]] = {
    "caseworker": {"subject": "demo-caseworker", "role": Role.CASEWORKER,
                   "organisation_id": "ong-lima", "regions": ["PE-LMA", "PE-CAL"]},
    "coordinator": {"subject": "demo-coordinator", "role": Role.COORDINATOR,
                    "organisation_id": "ong-lima", "regions": ["PE-LMA", "PE-CAL"],
                    "permissions": ["sensitive:read"]},
    "ngo_partner": {"subject": "demo-ngo-client", "role": Role.NGO_PARTNER,
                    "organisation_id": "ong-quito", "regions": ["EC-P"]},
    "provider": {"subject": "demo-provider", "role": Role.PROVIDER,
                 "organisation_id": "mtpe-empleo", "regions": ["PE-LMA", "PE-CAL"]},
    "ministry_system": {"subject": "demo-sunedu", "role": Role.MINISTRY_SYSTEM,
                        "organisation_id": "sunedu", "regions": []},
    "admin": {"subject": "demo-admin", "role": Role.ADMIN, "organisation_id": None,
              "regions": []},
}

PROFILES = [
    ("María José", "Pérez", "Rodríguez", date(1988, 3, 14), Sex.FEMALE, PopulationType.MIGRANT,
     "PE-LMA"),
    ("José Gregorio", "Hernández", "Márquez", date(1979, 10, 2), Sex.MALE,
     PopulationType.REFUGEE, "PE-LMA"),
    ("Yuleisy Carolina", "Briceño", None, date(1995, 7, 21), Sex.FEMALE,
     PopulationType.ASYLUM_SEEKER, "PE-CAL"),
    ("Andrés Eloy", "Peña", "Colmenares", date(1990, 1, 30), Sex.MALE, PopulationType.MIGRANT,
     "PE-LMA"),
]


async def seed_demo(settings: Settings) -> dict[str, int]:
    counts = {"organisations": 0, "programmes": 0, "profiles": 0}
    gateway_db = Database(settings.database_url("gateway"))
    try:
        async with gateway_db.uow() as uow:
            have = set((await uow.session.scalars(select(Organisation.id))).all())
            for org in ORGANISATIONS:
                if org["id"] not in have:
                    uow.session.add(Organisation(**org))
                    counts["organisations"] += 1
            await uow.commit()
    finally:
        await gateway_db.dispose()

    referrals_db = Database(settings.database_url("referrals"))
    try:
        counts["programmes"] = await seed_catalogue(db=referrals_db)
    finally:
        await referrals_db.dispose()

    registry_db = Database(settings.database_url("registry"))
    caseworker = demo_identity("caseworker")
    try:
        for i, (given, first, second, born, sex, pop, region) in enumerate(PROFILES):
            stored = await registry.create_profile(
                # the peers are never asked: no demo consent names a programme
                db=registry_db, identity=caseworker, peers=Peers(settings),
                data=ProfileCreate(given_names=given, first_surname=first,
                                   second_surname=second, birth_date=born, sex=sex,
                                   nationality="VEN", population_type=pop, region=region),
                idempotency=IdempotencyKey("seed-demo", f"demo-profile-{i}", f"v1-{i}"),
                cipher=SensitiveCipher.from_settings(settings),
            )
            counts["profiles"] += 0 if stored.replayed else 1
    finally:
        await registry_db.dispose()
    return counts


def demo_identity(name: str) -> Identity:
    spec = IDENTITIES[name]
    return Identity(subject=spec["subject"], role=spec["role"],
                    organisation_id=spec["organisation_id"], regions=frozenset(spec["regions"]),
                    permissions=frozenset(spec.get("permissions", ())),
                    kind="user" if name in ("caseworker", "coordinator") else "client")
