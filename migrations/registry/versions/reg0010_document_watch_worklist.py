"""document watch and worklist: expiry marks, worklist items, renewals in progress

``document_watch_marks``: one row per (document, expiry date, horizon) the watch announced,
its unique key the claim that makes each ``document.expiring`` / ``document.expired`` go out
once across replicas and restarts. ``worklist_items``: what a caseworker must act on
(``GET /v1/worklist``, docs/decisions/0008). ``renewals_in_progress``: open referrals to a
renewal programme, learnt from the referrals service's events. Indexes on the documents'
expiry date and the consents' ``valid_until`` serve the watch (no sequential scan).

Revision ID: reg0010_document_watch_worklist
Revises: reg0009_retention
Create Date: 2026-12-04 19:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'reg0010_document_watch_worklist'
down_revision: str | None = 'reg0011_name_search_tokens'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'document_watch_marks',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('expiry_date', sa.Date(), nullable=False),
        sa.Column('horizon_days', sa.Integer(), nullable=False),
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('expiry_date', 'document_id', 'horizon_days',
                            name='uq_document_watch_marks'),
    )
    op.create_table(
        'worklist_items',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('subject_type', sa.String(length=20), nullable=False),
        sa.Column('subject_id', sa.String(length=64), nullable=False),
        sa.Column('dedupe_key', sa.String(length=200), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('snoozed_until', sa.Date(), nullable=True),
        sa.Column('assigned_to', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedupe_key'),
    )
    op.create_index('ix_worklist_items_status_due', 'worklist_items',
                    ['status', 'due_date', 'id'], unique=False)
    op.create_table(
        'renewals_in_progress',
        sa.Column('referral_id', sa.String(length=64), nullable=False),
        sa.Column('profile_id', sa.String(length=36), nullable=False),
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('open', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('referral_id'),
    )
    op.create_index('ix_renewals_in_progress_profile_id', 'renewals_in_progress',
                    ['profile_id'], unique=False)
    op.create_index('ix_identity_documents_expiry', 'identity_documents', ['expiry_date'],
                    unique=False)
    op.create_index('ix_consents_valid_until', 'consents', ['valid_until'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_consents_valid_until', table_name='consents')
    op.drop_index('ix_identity_documents_expiry', table_name='identity_documents')
    op.drop_index('ix_renewals_in_progress_profile_id', table_name='renewals_in_progress')
    op.drop_table('renewals_in_progress')
    op.drop_index('ix_worklist_items_status_due', table_name='worklist_items')
    op.drop_table('worklist_items')
    op.drop_table('document_watch_marks')
