"""Job matching: the candidates projection (people consenting to purpose job_matching, their
matching facts, occupations and the organisations they consented to) fed by events (issue 20)

Revision ID: ref0009_vacancy_matching
Revises: ref0007_vacancies
Create Date: 2026-12-04 19:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'ref0009_vacancy_matching'
down_revision: str | None = 'ref0007_vacancies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('match_people',
    sa.Column('profile_id', sa.String(length=36), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('initials', sa.String(length=12), nullable=True),
    sa.Column('years_experience', sa.Integer(), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('profile_id')
    )
    with op.batch_alter_table('match_people', schema=None) as batch_op:
        batch_op.create_index('ix_match_people_country_region', ['country', 'region'],
                              unique=False)
    op.create_table('match_consents',
    sa.Column('organisation_id', sa.String(length=64), nullable=False),
    sa.Column('profile_id', sa.String(length=36), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['profile_id'], ['match_people.profile_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id', 'profile_id')
    )
    with op.batch_alter_table('match_consents', schema=None) as batch_op:
        batch_op.create_index('ix_match_consents_profile', ['profile_id'], unique=False)
    op.create_table('match_occupations',
    sa.Column('profile_id', sa.String(length=36), nullable=False),
    sa.Column('isco', sa.String(length=4), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['match_people.profile_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('profile_id', 'isco')
    )
    with op.batch_alter_table('match_occupations', schema=None) as batch_op:
        batch_op.create_index('ix_match_occupations_isco', ['isco', 'profile_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('match_occupations', schema=None) as batch_op:
        batch_op.drop_index('ix_match_occupations_isco')
    op.drop_table('match_occupations')
    with op.batch_alter_table('match_consents', schema=None) as batch_op:
        batch_op.drop_index('ix_match_consents_profile')
    op.drop_table('match_consents')
    with op.batch_alter_table('match_people', schema=None) as batch_op:
        batch_op.drop_index('ix_match_people_country_region')
    op.drop_table('match_people')
