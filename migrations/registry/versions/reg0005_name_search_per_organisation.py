"""name search per organisation

Beside the trigram index over every profile, one over (organisation, trigrams): the name
search of a caller whose organisation holds a small share of the profiles is driven by
their own caseload, not by the matches across all organisations; where it holds most of
them, the planner keeps the plain one (docs/decisions/0004). PostgreSQL needs btree_gin for
the organisation column of a GIN index; elsewhere a plain index.

Revision ID: reg0005
Revises: reg0004
Create Date: 2026-11-30 09:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'reg0005'
down_revision: str | None = 'reg0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.create_index('ix_profiles_org_search_key', ['organisation_id', 'search_key'],
                              unique=False, postgresql_using='gin',
                              postgresql_ops={'search_key': 'gin_trgm_ops'})


def downgrade() -> None:
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_profiles_org_search_key', postgresql_using='gin',
                            postgresql_ops={'search_key': 'gin_trgm_ops'})
    # btree_gin stays: an extension may serve other schemas of the database
