"""The caseload rule's two forms agree (services/credentials/access.py).

For every caller of role × organisation × regions and every credential of a small grid of
organisation × region (a NULL region included), the Python check (``in_caseload``) says yes
exactly when the SQL clause (``caseload_clause``) selects the row — on whichever database
the suite runs. Changing either form alone makes some case here fail.
"""

from __future__ import annotations

import uuid
from itertools import product

import pytest
from sqlalchemy import select

from services.credentials.access import caseload_clause, in_caseload
from services.credentials.models import Credential
from shared.db import Database
from shared.identity import Identity, Role

FILED_ORGANISATIONS = ("ong-lima", "ong-otra")
FILED_REGIONS = ("PE-LMA", "PE-CUS", "EC-P", None)
CALLER_ORGANISATIONS = ("ong-lima", "ong-otra", None)
CALLER_REGIONS = (frozenset(), frozenset({"PE-LMA"}), frozenset({"PE-LMA", "EC-P"}),
                  frozenset({"PE-CUS"}))


@pytest.mark.parametrize("regions", CALLER_REGIONS,
                         ids=lambda r: "+".join(sorted(r)) or "all-regions")
@pytest.mark.parametrize("organisation_id", CALLER_ORGANISATIONS,
                         ids=lambda o: o or "no-organisation")
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_python_check_and_sql_clause_select_the_same_credentials(
    dbs: dict[str, Database], role: Role, organisation_id: str | None,
    regions: frozenset[str],
) -> None:
    identity = Identity(subject="twin", role=role, organisation_id=organisation_id,
                        regions=regions)
    grid: dict[str, tuple[str, str | None]] = {}
    async with dbs["credentials"].uow() as uow:  # never committed: nothing stays behind
        for filed_org, filed_region in product(FILED_ORGANISATIONS, FILED_REGIONS):
            credential = Credential(
                id=str(uuid.uuid4()), profile_id=str(uuid.uuid4()),
                organisation_id=filed_org, region=filed_region, kind="academic_degree",
                title="Médico Cirujano", status="self_declared", created_by="twin")
            uow.session.add(credential)
            grid[credential.id] = (filed_org, filed_region)
        await uow.session.flush()
        selected = set(await uow.session.scalars(
            select(Credential.id).where(Credential.id.in_(grid), caseload_clause(identity))))

    by_python = {cid for cid, (filed_org, filed_region) in grid.items()
                 if in_caseload(identity, organisation_id=filed_org, region=filed_region)}
    # on failure: (organisation, region) filed → (Python verdict, SQL verdict)
    assert by_python == selected, {
        place: (cid in by_python, cid in selected)
        for cid, place in grid.items() if (cid in by_python) != (cid in selected)}
