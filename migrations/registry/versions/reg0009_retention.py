"""retention: the audit log's period is enforceable

The append-only triggers now let through one kind of DELETE: of entries older than the
``purge_before`` of a row in ``audit_purge_window``, which the retention purge writes and
removes inside its own transaction (services/registry/retention.py). UPDATE and TRUNCATE are
still refused, as is any other DELETE. An index on ``at`` serves the purge.

Revision ID: reg0009_retention
Revises: reg0007_access_denials
Create Date: 2026-12-04 17:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'reg0009_retention'
down_revision: str | None = 'reg0007_access_denials'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION registry_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_purge_window w WHERE OLD.at < w.purge_before) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END
$$
"""
PG_FUNCTION_BEFORE = """
CREATE OR REPLACE FUNCTION registry_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$
"""
SQLITE_DELETE = """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_purge_window w WHERE OLD.at < w.purge_before)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
"""
SQLITE_DELETE_BEFORE = """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
"""


def upgrade() -> None:
    op.create_table(
        'audit_purge_window',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('purge_before', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute(SQLITE_DELETE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION_BEFORE)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute(SQLITE_DELETE_BEFORE)
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_purge_window')
