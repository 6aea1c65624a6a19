"""Regularisation: referrals at risk when the person's work authorisation lapsed, and each
person's work-authorising documents (expiry per document and country) from the registry's document events

Revision ID: ref0006_regularisation_at_risk
Revises: ref0005
Create Date: 2026-12-04 19:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'ref0006_regularisation_at_risk'
down_revision: str | None = 'ref0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('at_risk_reason', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('at_risk_document_type', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('at_risk_since', sa.DateTime(timezone=True),
                                      nullable=True))
    op.create_table(
        'work_authorisations',
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('document_type', sa.String(length=64), nullable=False),
        sa.Column('expiry_date', sa.Date(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('profile_id', 'country', 'document_id'),
    )
    with op.batch_alter_table('work_authorisations', schema=None) as batch_op:
        batch_op.create_index('ix_work_authorisations_expiry', ['country', 'expiry_date'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('work_authorisations', schema=None) as batch_op:
        batch_op.drop_index('ix_work_authorisations_expiry')
    op.drop_table('work_authorisations')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('at_risk_since')
        batch_op.drop_column('at_risk_document_type')
        batch_op.drop_column('at_risk_reason')
