"""name search driven by name tokens

On PostgreSQL the name search is driven by the tokens of the normalised name
(``string_to_array(search_key, ' ')``, a GIN array index) instead of trigrams alone: at
national scale with real surname frequencies a typo'd name shares trigrams with tens of
thousands of keys, while the intersection of its tokens holds a handful of people
(docs/decisions/0012). Typos are corrected against ``name_tokens``, the dictionary of the
tokens that active profiles carry (a few thousand rows, trigram-indexed), which a trigger
keeps in step with every write of ``search_key`` — create, bulk import, rectification,
merge, erasure — so no write path can forget it, and a token nobody carries any more (an
erased person's rare surname) leaves the dictionary with its last holder. SQLite keeps the
scan of the caller's caseload (the table exists, empty and unused).

Revision ID: reg0011_name_search_tokens
Revises: reg0009_retention
Create Date: 2026-12-04 19:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'reg0011_name_search_tokens'
down_revision: str | None = 'reg0013_occupations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION profiles_name_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  new_tokens text[] := '{}';
  old_tokens text[] := '{}';
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.search_key IS NOT NULL THEN
    new_tokens := string_to_array(NEW.search_key, ' ');
  END IF;
  IF TG_OP <> 'INSERT' AND OLD.search_key IS NOT NULL THEN
    old_tokens := string_to_array(OLD.search_key, ' ');
  END IF;
  INSERT INTO name_tokens (token)
    SELECT DISTINCT t FROM unnest(new_tokens) t WHERE NOT t = ANY(old_tokens)
    ORDER BY 1 ON CONFLICT DO NOTHING;
  DELETE FROM name_tokens d
    WHERE d.token = ANY(old_tokens) AND NOT d.token = ANY(new_tokens)
      AND NOT EXISTS (SELECT 1 FROM profiles p
                      WHERE string_to_array(p.search_key, ' ') @> ARRAY[d.token::text]);
  RETURN NULL;
END
$$
"""
PG_TRIGGER_ON = """
CREATE TRIGGER profiles_name_tokens
  AFTER INSERT OR DELETE OR UPDATE OF search_key ON profiles
  FOR EACH ROW EXECUTE FUNCTION profiles_name_tokens()
"""


def upgrade() -> None:
    op.create_table(
        'name_tokens',
        sa.Column('token', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('token'),
    )
    op.create_index('ix_name_tokens_trgm', 'name_tokens', ['token'], unique=False,
                    postgresql_using='gin', postgresql_ops={'token': 'gin_trgm_ops'})
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_profiles_name_tokens ON profiles "
                   "USING gin (string_to_array(search_key, ' '))")
        op.execute("INSERT INTO name_tokens (token) SELECT DISTINCT t FROM profiles, "
                   "unnest(string_to_array(search_key, ' ')) t "
                   "WHERE search_key IS NOT NULL ON CONFLICT DO NOTHING")
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER_ON)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS profiles_name_tokens ON profiles")
        op.execute("DROP FUNCTION IF EXISTS profiles_name_tokens()")
        op.execute("DROP INDEX IF EXISTS ix_profiles_name_tokens")
    op.drop_index('ix_name_tokens_trgm', table_name='name_tokens',
                  postgresql_using='gin', postgresql_ops={'token': 'gin_trgm_ops'})
    op.drop_table('name_tokens')
