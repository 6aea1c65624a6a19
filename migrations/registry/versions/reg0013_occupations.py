"""occupations: experience per occupation (ISCO-08 unit group) in the employability fields

A JSON list ``[{"isco": "2221", "years": 8}]`` on ``profiles``, read by job matching
(issue 20 item 2); the overall ``years_experience`` and the three ISCO occupations stay.

Revision ID: reg0013_occupations
Revises: reg0009_retention
Create Date: 2026-12-04 19:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'reg0013_occupations'
down_revision: str | None = 'reg0012_transfers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('experience', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_column('experience')
