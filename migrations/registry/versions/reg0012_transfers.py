"""portable records across deployments: transfer consents, deployment keys, transfers

A ``transfer`` consent names the destination deployment (``recipient_deployment_id``); the
deployment's own bundle keys (sealed private halves) and every transfer prepared or imported,
with its legal basis, unique by direction and bundle id (issue 21, docs/decisions/0011).

Revision ID: reg0012_transfers
Revises: reg0009_retention
Create Date: 2026-12-04 19:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'reg0012_transfers'
down_revision: str | None = 'reg0009_retention'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_deployment_id', sa.String(length=64),
                                      nullable=True))
    op.create_table(
        'deployment_keys',
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('use', sa.String(length=3), nullable=False),
        sa.Column('public_jwk', sa.JSON(), nullable=False),
        sa.Column('private_key', sa.String(length=8000), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('kid'),
    )
    op.create_table(
        'transfers',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('direction', sa.String(length=3), nullable=False),
        sa.Column('bundle_id', sa.String(length=64), nullable=False),
        sa.Column('peer_id', sa.String(length=64), nullable=False),
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('peer_profile_id', sa.String(length=64), nullable=True),
        sa.Column('consent_id', sa.String(length=64), nullable=True),
        sa.Column('legal_basis', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_subject', sa.String(length=200), nullable=False),
        sa.Column('actor_organisation_id', sa.String(length=64), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('direction', 'bundle_id', name='uq_transfers_bundle'),
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index('ix_transfers_profile_id', ['profile_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_transfers_profile_id')
    op.drop_table('transfers')
    op.drop_table('deployment_keys')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('recipient_deployment_id')
