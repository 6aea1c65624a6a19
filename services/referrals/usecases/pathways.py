"""Pathway use cases: a person's multi-step route from a template (each step a referral;
completing one opens the next, in ``workflow``), read, listed, resumed or cancelled. Who may
see which pathway is ``access``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.referrals.clients import Credentials, Registry
from services.referrals.errors import (
    PROFILE_FIELD,
    ConcurrentWrite,
    ConsentMissing,
    PathwayAlreadyLive,
    PathwayClosed,
    PathwayNotResumable,
    StepNotOpened,
)
from services.referrals.lifecycle import Status
from services.referrals.models import Pathway, PathwayStep, Provider
from services.referrals.pathways import (
    LIVE,
    PathwayAction,
    PathwayStatus,
    StepStatus,
    Template,
    TemplateSet,
    choose_provider,
)
from services.referrals.repository import PathwayRepository, ProviderRepository
from services.referrals.schemas.pathways import (
    PathwayCreate,
    PathwayOut,
    PathwayTransitionIn,
    StepOut,
    TemplateOut,
    TemplatesOut,
    TemplateStepOut,
)
from services.referrals.usecases.common import (
    NO_STORE,
    commit_or_conflict,
    consent_check,
    decode_position,
    dumps,
    encode_position,
    load_route,
    load_visible_pathway,
    require_caseload,
    require_reader,
)
from services.referrals.workflow import active_key, cancel_pathway, open_step, pathway_event
from shared.clock import utcnow
from shared.concurrency import ExpectedVersion, etag
from shared.db import Database, UnitOfWork
from shared.errors import ValidationFailed
from shared.i18n import Text, current_language
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.identity import Identity
from shared.models import new_id
from shared.pagination import CursorCodec, Page
from shared.peers import Peers
from shared.regions import country_of


async def _pathway_out(uow: UnitOfWork, p: Pathway, steps: list[PathwayStep] | None = None
                       ) -> PathwayOut:
    repo = PathwayRepository(uow.session)
    steps = steps if steps is not None else await repo.steps(p.id)
    statuses = await repo.referral_statuses([s.referral_id for s in steps if s.referral_id])
    return PathwayOut(
        id=p.id, profile_id=p.profile_id, template=p.template,
        template_version=p.template_version, status=PathwayStatus(p.status),
        current_step=p.current_step, organisation_id=p.organisation_id, region=p.region,
        credential_id=p.credential_id, held_reason=p.held_reason,
        steps=[StepOut(position=s.position, programme_id=s.programme_id,
                       provider_id=s.provider_id,
                       provider_organisation_id=s.provider_organisation_id,
                       status=StepStatus(s.status), referral_id=s.referral_id,
                       referral_status=Status(statuses[s.referral_id])
                       if s.referral_id in statuses else None,
                       attempts=s.attempts or 0, completed_at=s.completed_at)
               for s in steps],
        version=p.version, created_at=p.created_at, updated_at=p.updated_at,
        completed_at=p.completed_at)


def templates_out(templates: TemplateSet) -> TemplatesOut:
    lang = current_language()
    return TemplatesOut(version=templates.version, items=[
        TemplateOut(id=t.id, country=t.country, name=t.name.en if lang == "en" else t.name.es,
                    steps=[TemplateStepOut(programme_id=s.programme, providers=s.providers,
                                           recognition=s.recognition) for s in t.steps])
        for t in templates.templates])


def _pick_degree(credentials: list[dict[str, Any]], fields: Sequence[str], country: str
                 ) -> str | None:
    """The person's foreign degree a recognition step is about (most advanced first)."""
    order = {"verified_with_issuer": 0, "apostilled": 1, "document_seen": 2,
             "self_declared": 3}
    candidates = []
    for c in credentials:
        issuer = c.get("issuer")
        issuer = issuer if isinstance(issuer, dict) else {}
        field = c.get("field_isced") or ""
        if (c.get("kind") == "academic_degree" and c.get("status") in order
                and issuer.get("country") != country
                and (not fields or any(str(field).startswith(f) for f in fields))):
            candidates.append((order[str(c["status"])], str(c.get("id"))))
    return min(candidates)[1] if candidates else None


_BLOCKED: dict[str, Text] = {
    "no_provider": Text("ningún proveedor activo atiende la región de la persona",
                        "no active provider serves the person's region"),
    "referral_already_open": Text("la persona ya tiene una derivación abierta a ese programa",
                                  "the person already has an open referral to that "
                                  "programme"),
}


def _raise_blocked(blocked: dict[str, Any]) -> None:
    if blocked["code"] == "consent_missing":
        raise ConsentMissing(blocked["recipient_organisation_id"], blocked["programme_id"])
    raise StepNotOpened(why=_BLOCKED[blocked["code"]], extra={"held_reason": blocked})


def _template_of(templates: TemplateSet, data: PathwayCreate) -> Template:
    """The requested template, and providers chosen only for its steps (else 422)."""
    template = templates.get(data.template)
    if template is None:
        raise ValidationFailed([("template", Text("Plantilla desconocida (vea GET "
                                                  "/v1/pathways/templates)",
                                                  "Unknown template (see GET "
                                                  "/v1/pathways/templates)"))])
    unknown = [k for k in data.providers if k not in {s.programme for s in template.steps}]
    if unknown:
        raise ValidationFailed([(f"providers.{k}", Text("Programa que no es un paso de la "
                                                       "plantilla",
                                                       "Not a programme of the template"))
                                for k in unknown])
    return template


async def _choose_providers(uow: UnitOfWork, template: Template, data: PathwayCreate,
                            region: str) -> list[tuple[str, Provider]]:
    """Each step's provider: the caller's choice if it is active, delivers the step and
    serves the person's region, else the template's first that serves it (else 422)."""
    serving = {row.provider.id: (list(row.provider.regions or []), row)
               for row in await ProviderRepository(uow.session).active_serving(
                   template.country)}
    chosen: list[tuple[str, Provider]] = []
    errors: list[tuple[str, Text]] = []
    for step in template.steps:
        wanted = data.providers.get(step.programme)
        if wanted is not None:
            hit = serving.get(wanted)
            ok = hit is not None and step.programme in hit[1].programme_ids \
                and region in hit[0]
            provider_id = wanted if ok else None
        else:
            provider_id = choose_provider(step.providers,
                                          {k: v[0] for k, v in serving.items()}, region)
        if provider_id is None:
            errors.append((f"providers.{step.programme}", Text(
                "Ningún proveedor activo de este paso atiende la región de la persona",
                "No active provider of this step serves the person's region")))
        else:
            chosen.append((step.programme, serving[provider_id][1].provider))
    if errors:
        raise ValidationFailed(errors)
    return chosen


async def _refuse_live(uow: UnitOfWork, identity: Identity, profile_id: str,
                       template: Template) -> None:
    """409 when the person already has a live pathway of this template (its id only for
    the organisation that owns it)."""
    live = [p for p in await PathwayRepository(uow.session).live_of_profile(profile_id)
            if p.template == template.id]
    if live:
        raise PathwayAlreadyLive(extra={"pathway_id": live[0].id}
                                 if live[0].organisation_id == identity.organisation_id
                                 else None)


def _new_pathway(*, identity: Identity, data: PathwayCreate, profile: dict[str, Any],
                 template: Template, templates: TemplateSet, credential_id: str | None,
                 chosen: list[tuple[str, Provider]], now: datetime
                 ) -> tuple[Pathway, list[PathwayStep]]:
    assert identity.organisation_id is not None
    person = str(profile["id"])  # a merged id answers as its survivor
    pathway = Pathway(
        id=new_id(), profile_id=person,
        profile_organisation_id=str(profile["organisation_id"]), region=str(profile["region"]),
        template=template.id, template_version=templates.version,
        status=PathwayStatus.ACTIVE.value,
        active_key=active_key(person, template.id), current_step=0,
        organisation_id=identity.organisation_id, created_by=identity.subject,
        credential_id=credential_id, held_reason=None, created_at=now, updated_at=now,
        version=1)
    steps = [PathwayStep(pathway_id=pathway.id, position=i, programme_id=programme_id,
                         provider_id=provider.id,
                         provider_organisation_id=provider.organisation_id,
                         status=StepStatus.PENDING.value, attempts=0)
             for i, (programme_id, provider) in enumerate(chosen)]
    return pathway, steps


async def create_pathway(*, db: Database, peers: Peers, identity: Identity,
                         templates: TemplateSet, data: PathwayCreate,
                         idempotency: IdempotencyKey | None = None) -> StoredResponse:
    """Start a person's pathway from a template and open its first step as a referral
    (the person's consent to share with that provider checked as for any referral)."""
    require_caseload(identity)
    template = _template_of(templates, data)
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        profile = await Registry(peers).profile(identity, data.profile_id)
        if profile is None:
            raise ValidationFailed([("profile_id", PROFILE_FIELD)])
        if country_of(str(profile["region"])) != template.country:
            raise ValidationFailed([("template", Text(
                "La plantilla es de otro país que la región de la persona",
                "The template is for another country than the person's region"))])
        chosen = await _choose_providers(uow, template, data, str(profile["region"]))
        person = str(profile["id"])
        await _refuse_live(uow, identity, person, template)
        credential_id = data.credential_id
        if credential_id is None and any(s.recognition for s in template.steps):
            credential_id = _pick_degree(
                await Credentials(peers).of_profile(identity, person),
                template.degree_fields_isced, template.country)
        now = utcnow()
        pathway, steps = _new_pathway(identity=identity, data=data, profile=profile,
                                      template=template, templates=templates,
                                      credential_id=credential_id, chosen=chosen, now=now)
        await _open_first_step(uow, peers, identity, pathway, steps, data.notes, now)
        out = await _pathway_out(uow, pathway, steps)
        stored = await uow.remember(idempotency, status_code=201, body=dumps(out), headers={
            "ETag": etag(pathway.version), "Location": f"/v1/pathways/{pathway.id}",
            **NO_STORE})
        await commit_or_conflict(uow)
        return stored


async def _open_first_step(uow: UnitOfWork, peers: Peers, identity: Identity,
                           pathway: Pathway, steps: list[PathwayStep], notes: str | None,
                           now: datetime) -> None:
    """Store the new pathway and its steps, open the first and announce it."""
    repo = PathwayRepository(uow.session)
    repo.add(pathway)
    for s in steps:
        repo.add_step(s)
    try:
        await uow.session.flush()
        blocked = await open_step(uow, pathway, steps[0], identity, now=now,
                                  consents=consent_check(peers, identity), notes=notes)
    except IntegrityError:  # a concurrent request started the same pathway
        raise PathwayAlreadyLive() from None
    if blocked is not None:
        _raise_blocked(blocked)
    await uow.session.flush()
    uow.emit(pathway_event("pathway.advanced", pathway, {
        "from_step": None, "to_step": 0, "status": pathway.status,
        "referral_id": steps[0].referral_id}, (steps[0].provider_organisation_id,)))


async def get_pathway(*, db: Database, identity: Identity, pathway_id: str) -> PathwayOut:
    require_reader(identity)
    async with db.uow() as uow:
        p, steps = await load_visible_pathway(uow, identity, pathway_id)
        return await _pathway_out(uow, p, steps)


async def list_pathways(*, db: Database, identity: Identity, cursors: CursorCodec,
                        profile_id: str | None, status: str | None, template: str | None,
                        limit: int, cursor: str | None) -> Page[PathwayOut]:
    require_reader(identity)
    key = {"profile_id": profile_id, "status": status, "template": template}
    after = decode_position(cursors, cursor, "pathways", key, caller=identity)
    async with db.uow() as uow:
        repo = PathwayRepository(uow.session)
        rows = await repo.find(identity=identity, profile_id=profile_id, status=status,
                               template=template, after=after, limit=limit + 1)
        steps = await repo.steps_of([p.id for p in rows[:limit]])
        items = [await _pathway_out(uow, p, steps[p.id]) for p in rows[:limit]]
    nxt = (encode_position(cursors, "pathways", key, rows[limit - 1].created_at,
                           rows[limit - 1].id, caller=identity) if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)


async def transition_pathway(*, db: Database, peers: Peers, identity: Identity,
                             pathway_id: str, data: PathwayTransitionIn,
                             expected: ExpectedVersion,
                             idempotency: IdempotencyKey | None = None) -> StoredResponse:
    """``resume`` a pathway on hold (a new referral for its held step, consent checked) or
    ``cancel`` it (its open step's referral is cancelled too). Its organisation's caseload."""
    require_caseload(identity)
    async with db.uow() as uow:
        if (replay := await uow.claim(idempotency)) is not None:
            return replay
        p, steps = await load_visible_pathway(uow, identity, pathway_id)
        expected.check(p.version)
        now = utcnow()
        if data.action is PathwayAction.RESUME:
            await _resume(uow, peers, identity, p, steps, data, now)
        else:
            if p.status not in LIVE:
                raise PathwayClosed(status=p.status)
            await cancel_pathway(uow, p, steps, identity, now=now,
                                 consents=consent_check(peers, identity), reason=data.reason)
        await uow.session.flush()
        out = await _pathway_out(uow, p, steps)
        stored = await uow.remember(idempotency, status_code=200, body=dumps(out),
                                    headers={"ETag": etag(p.version), **NO_STORE})
        await commit_or_conflict(uow)
        return stored


async def _resume(uow: UnitOfWork, peers: Peers, identity: Identity, p: Pathway,
                  steps: list[PathwayStep], data: PathwayTransitionIn, now: datetime) -> None:
    """A pathway on hold opens its held step again (a new referral, optionally to another
    provider; consent checked) and is active again."""
    if p.status != PathwayStatus.ON_HOLD:
        raise PathwayNotResumable(status=p.status)
    step = steps[p.current_step]
    if data.provider_id is not None:
        await load_route(uow, step.programme_id, data.provider_id, p.region)
    try:
        blocked = await open_step(uow, p, step, identity, now=now,
                                  consents=consent_check(peers, identity),
                                  provider_id=data.provider_id, reason=data.reason)
    except IntegrityError:
        raise ConcurrentWrite() from None
    if blocked is not None:
        _raise_blocked(blocked)
    p.status = PathwayStatus.ACTIVE.value
    p.held_reason = None
    p.updated_at = now
