"""access denials: who was refused a person outside their scope

One row per (person, day, prober organisation, prober, role, method, route template) with
first and last time and the number of attempts, so repeated probes add to a counter instead
of rows (docs/decisions/0007). The unique key is the upsert's conflict target.

Revision ID: reg0007_access_denials
Revises: reg0006
Create Date: 2026-12-04 16:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'reg0007_access_denials'
down_revision: str | None = 'reg0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'access_denials',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('prober_organisation_id', sa.String(length=64), nullable=False),
        sa.Column('prober_subject', sa.String(length=200), nullable=False),
        sa.Column('prober_role', sa.String(length=20), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('route', sa.String(length=200), nullable=False),
        sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('profile_id', 'day', 'prober_organisation_id', 'prober_subject',
                            'prober_role', 'method', 'route', name='uq_access_denials_probe'),
    )
    with op.batch_alter_table('access_denials', schema=None) as batch_op:
        batch_op.create_index('ix_access_denials_profile', ['profile_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('access_denials', schema=None) as batch_op:
        batch_op.drop_index('ix_access_denials_profile')
    op.drop_table('access_denials')
