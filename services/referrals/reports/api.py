"""The indicators route, ``GET /v1/reports/indicators`` (JSON, or CSV with
``Accept: text/csv``)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from services.referrals.reports.indicators import compute
from services.referrals.reports.queries import Filters
from services.referrals.reports.rendering import to_csv
from services.referrals.reports.scope import scope_of
from shared.deps import DbDep, IsoDate, SettingsDep
from shared.errors import ValidationFailed, problem_responses
from shared.i18n import Text
from shared.identity import CurrentIdentity
from shared.regions import RegionCode

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Slug = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


@router.get(
    "/indicators", operation_id="reports_indicators",
    responses={**problem_responses(401, 403, 422),
               200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="Indicators for programme coordinators (JSON, or CSV with Accept: text/csv)",
    description=(
        "People registered in the period, and the referrals created in it: by programme and "
        "status, completion rate and median days to completion, overdue (now), and outcomes "
        "(jobs and formal-contract share, median wage per currency, jobs by ISCO-08 major "
        "group — `jobs.isco_major.<0-9|unknown>`: the vacancy's occupation for a placement "
        "through an application, else the outcome's — and `jobs.through_vacancy`, degrees "
        "recognised, "
        "exams passed, licences, skills certified, seed capital and interest-free "
        "microcredit per currency — count and total —, Emprende Segur@ modules); and, of the "
        "people registered in the period, those whose work authorisation lapses within 30 "
        "days (`work_authorisation.lapsing_30d`) or has lapsed "
        "(`work_authorisation.lapsed`), now, on their country's day. Each "
        "indicator has a `total` and `by` sex, age band (0-17, 18-24, 25-34, 35-44, 45-59, "
        "60+; age reached in the period's last year), nationality, population type and "
        "region. Cells counting fewer than `threshold` people are `null` and listed in "
        "`suppressed`, with a second cell wherever subtraction from a total would reveal "
        "one. People who opposed statistics are excluded; cancelled people still count. "
        "Coordinators see their regions; admins everything. `Accept: text/csv`: long "
        "format `indicator,dimension,value,count` (suppressed cells read `suppressed`)."),
)
async def indicators(
    request: Request, identity: CurrentIdentity, db: DbDep, settings: SettingsDep,
    date_from: Annotated[IsoDate | None, Query(alias="from", description="First day")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to", description="Last day (inclusive)")
                       ] = None,
    country: Annotated[str | None, Query(pattern=r"^(PE|EC)$")] = None,
    region: RegionCode | None = None,
    programme_id: Slug = None,
    provider_id: Slug = None,
) -> Response:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed([("to", Text("Debe ser igual o posterior a «from»",
                                            "Must be on or after 'from'"))])
    f = scope_of(identity, Filters(date_from, date_to, country, region, programme_id,
                                   provider_id))
    body = await compute(db, f, threshold=settings.report_min_cell)
    headers = {"Cache-Control": "no-store"}
    if "text/csv" in request.headers.get("accept", ""):
        return Response(to_csv(body), media_type="text/csv; charset=utf-8",
                        headers={**headers, "Content-Disposition":
                                 'attachment; filename="indicators.csv"'})
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)
