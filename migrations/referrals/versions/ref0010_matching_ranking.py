"""Matching ranked by the database (issue 20 item 5, decision 0016): the vacancies'
requirements flattened into ``req_*`` columns, and the candidates projection's ranking rows
(``match_candidates``) and credentials (``match_credentials``). Existing rows are filled from
what is already kept (the vacancies' requirements; the projection's facts and consents).

Revision ID: ref0010_matching_ranking
Revises: ref0008_report_rollups
Create Date: 2026-12-04 23:30:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = 'ref0010_matching_ranking'
down_revision: str | None = 'ref0008_report_rollups'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _req_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column('req_work_authorisation', sa.Boolean(), nullable=False,
                  server_default=sa.false()),
        sa.Column('req_degree_field', sa.String(length=8), nullable=True),
        sa.Column('req_licence', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('req_licence_field', sa.String(length=8), nullable=True),
        sa.Column('req_min_years', sa.Integer(), nullable=True),
        sa.Column('req_skills', sa.String(length=200), nullable=True),
        sa.Column('req_skills_count', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('req_languages', sa.String(length=200), nullable=True),
        sa.Column('req_languages_count', sa.Integer(), nullable=False, server_default='0'),
    ]


def _fill(bind: Any) -> None:
    """Existing vacancies and projection rows, computed by the same functions the service
    writes them with (imported here, at upgrade time, on purpose: the rows must be what the
    running code would have written)."""
    from services.referrals.matching.models import MatchCandidate, MatchCredential
    from services.referrals.matching.projection import rows_for
    from services.referrals.vacancies.models import requirement_columns

    meta = sa.MetaData()
    vacancies = sa.Table('vacancies', meta, autoload_with=bind)
    for vid, raw in bind.execute(sa.select(vacancies.c.id, vacancies.c.requirements)).all():
        bind.execute(vacancies.update().where(vacancies.c.id == vid)
                     .values(**requirement_columns(raw if isinstance(raw, dict) else {})))
    people = sa.Table('match_people', meta, autoload_with=bind)
    consents = sa.Table('match_consents', meta, autoload_with=bind)
    now = datetime.now(UTC)
    for row in bind.execute(sa.select(people)).mappings().all():
        given = [{"organisation_id": c.organisation_id,
                  # SQLite gives the instant back without its zone: it was stored in UTC
                  "valid_until": c.valid_until.replace(tzinfo=c.valid_until.tzinfo or UTC)
                  .isoformat() if c.valid_until else None}
                 for c in bind.execute(sa.select(consents).where(
                     consents.c.profile_id == row["profile_id"])).all()]
        person = {"years_experience": row["years_experience"], **(row["facts"] or {}),
                  "status": "active", "country": row["country"],
                  "region": row["region"], "initials": row["initials"],
                  "job_matching": given}
        rows = rows_for(row["profile_id"], person, now)
        for model in (MatchCandidate, MatchCredential):
            if rows.get(model):
                bind.execute(sa.insert(model.__table__), rows[model])


def upgrade() -> None:
    with op.batch_alter_table('vacancies', schema=None) as batch_op:
        for column in _req_columns():
            batch_op.add_column(column)
        batch_op.create_index('ix_vacancies_matching', ['country', 'status', 'occupation_isco'],
                              unique=False)
    op.create_table(
        'match_candidates',
        sa.Column('organisation_id', sa.String(length=64), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('isco', sa.String(length=4), nullable=False),
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('region', sa.String(length=6), nullable=False),
        sa.Column('years', sa.Integer(), nullable=True),
        sa.Column('years_experience', sa.Integer(), nullable=True),
        sa.Column('declared_experience', sa.Boolean(), nullable=False),
        sa.Column('wa_until', sa.Date(), nullable=True),
        sa.Column('languages', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['profile_id'], ['match_people.profile_id'],
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organisation_id', 'country', 'isco', 'profile_id'),
    )
    op.create_index('ix_match_candidates_profile', 'match_candidates', ['profile_id'],
                    unique=False)
    op.create_index('ix_match_candidates_reach', 'match_candidates',
                    ['organisation_id', 'country', 'isco', 'profile_id', 'valid_until',
                     'region', 'years', 'years_experience', 'declared_experience', 'wa_until',
                     'languages'], unique=False)
    op.create_table(
        'match_credentials',
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('credential_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('field_isced', sa.String(length=8), nullable=True),
        sa.Column('occupation_isco', sa.String(length=4), nullable=True),
        sa.Column('issuer_country', sa.String(length=2), nullable=True),
        sa.Column('expires_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['profile_id'], ['match_people.profile_id'],
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('profile_id', 'credential_id'),
    )
    _fill(op.get_bind())


def downgrade() -> None:
    op.drop_table('match_credentials')
    op.drop_index('ix_match_candidates_reach', table_name='match_candidates')
    op.drop_index('ix_match_candidates_profile', table_name='match_candidates')
    op.drop_table('match_candidates')
    with op.batch_alter_table('vacancies', schema=None) as batch_op:
        batch_op.drop_index('ix_vacancies_matching')
        for column in reversed(_req_columns()):
            batch_op.drop_column(column.name)

