"""Reports: the rollups' cells by day too, and each fact's day, so a period's partial months
are read from the rollups instead of the raw rows (issue 22 item 4, decision 0019). The months
built so far are forgotten (their facts have no day): the next refresh rebuilds them.

Revision ID: ref0011_report_rollup_days
Revises: ref0010_matching_ranking
Create Date: 2026-12-05 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'ref0011_report_rollup_days'
down_revision: str | None = 'ref0010_matching_ranking'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('DELETE FROM report_rollup_months')
    op.execute('DELETE FROM report_rollup_cells')
    op.execute('DELETE FROM report_rollup_facts')
    op.create_table(
        'report_rollup_day_cells',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('region', sa.String(length=6), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('provider_id', sa.String(length=64), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
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
    op.create_index('ix_report_rollup_day_cells_day', 'report_rollup_day_cells',
                    ['day', 'kind'])
    with op.batch_alter_table('report_rollup_facts') as batch:
        batch.add_column(sa.Column('day', sa.Date(), nullable=False))


def downgrade() -> None:
    op.execute('DELETE FROM report_rollup_months')
    with op.batch_alter_table('report_rollup_facts') as batch:
        batch.drop_column('day')
    op.drop_index('ix_report_rollup_day_cells_day', table_name='report_rollup_day_cells')
    op.drop_table('report_rollup_day_cells')
