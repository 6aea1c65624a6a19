"""feed cursors made before cursors named their caller, and whom each was re-bound to

Revision ID: gat0006_feed_cursor_rebinding
Revises: gat0005
Create Date: 2026-12-04 16:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'gat0006_feed_cursor_rebinding'
down_revision: str | None = 'gat0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('feed_cursor_rebindings',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=24), nullable=False),
    sa.Column('organisation_id', sa.String(length=64), nullable=True),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('rebound_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )
    with op.batch_alter_table('feed_cursor_rebindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_cursor_rebindings_organisation_id'),
                              ['organisation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feed_cursor_rebindings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_cursor_rebindings_organisation_id'))
    op.drop_table('feed_cursor_rebindings')
