"""Reports: monthly rollups of the indicators (cells, per-referral facts for medians and
overdue, built months, changes since the build); issue 22 item 4, decision 0013

Revision ID: ref0008_report_rollups
Revises: ref0005
Create Date: 2026-12-04 20:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'ref0008_report_rollups'
down_revision: str | None = 'ref0009_vacancy_matching'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'report_rollup_cells',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('region', sa.String(length=6), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('provider_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=1), nullable=False),
        sa.Column('dim', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=40), nullable=False),
        sa.Column('people_registered', sa.Float(), nullable=False),
        sa.Column('m_referrals', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_requested', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_accepted', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_rejected', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_in_progress', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_on_hold', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_completed', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_failed', sa.Float(), nullable=False),
        sa.Column('m_referrals_status_cancelled', sa.Float(), nullable=False),
        sa.Column('m_jobs', sa.Float(), nullable=False),
        sa.Column('m_jobs_formal_contract', sa.Float(), nullable=False),
        sa.Column('m_jobs_wage_pen', sa.Float(), nullable=False),
        sa.Column('m_jobs_wage_usd', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_0', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_1', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_2', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_3', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_4', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_5', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_6', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_7', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_8', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_9', sa.Float(), nullable=False),
        sa.Column('m_jobs_isco_major_unknown', sa.Float(), nullable=False),
        sa.Column('m_jobs_through_vacancy', sa.Float(), nullable=False),
        sa.Column('m_degrees_recognised', sa.Float(), nullable=False),
        sa.Column('m_exams_passed', sa.Float(), nullable=False),
        sa.Column('m_licences_obtained', sa.Float(), nullable=False),
        sa.Column('m_skills_certified', sa.Float(), nullable=False),
        sa.Column('m_seed_capital_pen', sa.Float(), nullable=False),
        sa.Column('m_seed_capital_pen_amount', sa.Float(), nullable=False),
        sa.Column('m_seed_capital_usd', sa.Float(), nullable=False),
        sa.Column('m_seed_capital_usd_amount', sa.Float(), nullable=False),
        sa.Column('m_microcredit_pen', sa.Float(), nullable=False),
        sa.Column('m_microcredit_pen_amount', sa.Float(), nullable=False),
        sa.Column('m_microcredit_usd', sa.Float(), nullable=False),
        sa.Column('m_microcredit_usd_amount', sa.Float(), nullable=False),
        sa.Column('m_modules_completed_business_management', sa.Float(), nullable=False),
        sa.Column('m_modules_completed_financial_education', sa.Float(), nullable=False),
        sa.Column('m_modules_completed_sst', sa.Float(), nullable=False),
        sa.Column('m_referrals_overdue', sa.Float(), nullable=False),
    )
    op.create_index('ix_report_rollup_cells_month', 'report_rollup_cells', ['month', 'kind'])
    op.create_table(
        'report_rollup_facts',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('region', sa.String(length=6), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('provider_id', sa.String(length=64), nullable=False),
        sa.Column('sex', sa.String(length=10), nullable=False),
        sa.Column('birth_year', sa.Integer(), nullable=True),
        sa.Column('age_band', sa.String(length=8), nullable=True),
        sa.Column('nationality', sa.String(length=3), nullable=False),
        sa.Column('population_type', sa.String(length=30), nullable=False),
        sa.Column('overdue_from', sa.DateTime(timezone=True), nullable=True),
        sa.Column('m_days_to_completion_median', sa.Float(), nullable=True),
        sa.Column('m_jobs_wage_pen_median', sa.Float(), nullable=True),
        sa.Column('m_jobs_wage_usd_median', sa.Float(), nullable=True),
    )
    op.create_index('ix_report_rollup_facts_month', 'report_rollup_facts', ['month'])
    op.create_table(
        'report_rollup_months',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('month'),
    )
    op.create_table(
        'report_rollup_dirty',
        sa.Column('id', sa.Integer(), nullable=False, autoincrement=True),
        sa.Column('month', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_rollup_dirty_month', 'report_rollup_dirty', ['month'])


def downgrade() -> None:
    op.drop_index('ix_report_rollup_dirty_month', table_name='report_rollup_dirty')
    op.drop_table('report_rollup_dirty')
    op.drop_table('report_rollup_months')
    op.drop_index('ix_report_rollup_facts_month', table_name='report_rollup_facts')
    op.drop_table('report_rollup_facts')
    op.drop_index('ix_report_rollup_cells_month', table_name='report_rollup_cells')
    op.drop_table('report_rollup_cells')
