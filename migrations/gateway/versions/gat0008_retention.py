"""retention: indexes for the purge's look-ups

Delivered and failed webhook deliveries by status and delivery time, inbound messages by
arrival: the retention purge (gateway/retention.py) takes batches of them past their period
without scanning the tables.

Revision ID: gat0008_retention
Revises: gat0006_feed_cursor_rebinding
Create Date: 2026-12-04 17:45:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'gat0008_retention'
down_revision: str | None = 'gat0006_feed_cursor_rebinding'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_webhook_deliveries_done', 'webhook_deliveries',
                    ['status', 'delivered_at'], unique=False)
    op.create_index('ix_inbound_messages_received_at', 'inbound_messages', ['received_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbound_messages_received_at', table_name='inbound_messages')
    op.drop_index('ix_webhook_deliveries_done', table_name='webhook_deliveries')
