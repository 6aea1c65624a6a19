"""drop the per-organisation name index

reg0005 added a GIN index over (organisation, trigrams) for a name search driven by the
caller's own caseload. Measured, it made the search 5-6x faster for an organisation holding
a small share of the profiles, and 2-4x slower for one holding most of them: PostgreSQL
costs the trigram operators like cheap ones, so it filtered the caller's whole caseload
row by row instead of using a trigram index (docs/decisions/0004). The search went back to
one trigram-driven statement; this drops the index it no longer uses.

Revision ID: reg0006
Revises: reg0005
Create Date: 2026-11-30 10:10:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'reg0006'
down_revision: str | None = 'reg0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_profiles_org_search_key', table_name='profiles', if_exists=True,
                  postgresql_using='gin', postgresql_ops={'search_key': 'gin_trgm_ops'})
    # reg0005 as first written dropped the trigram index over every profile: a database
    # migrated then gets it back
    op.create_index('ix_profiles_search_key', 'profiles', ['search_key'], unique=False,
                    if_not_exists=True, postgresql_using='gin',
                    postgresql_ops={'search_key': 'gin_trgm_ops'})


def downgrade() -> None:
    op.create_index('ix_profiles_org_search_key', 'profiles', ['organisation_id', 'search_key'],
                    unique=False, postgresql_using='gin',
                    postgresql_ops={'search_key': 'gin_trgm_ops'})
