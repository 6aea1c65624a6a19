"""the organisation that recognised a credential (issue 16, item 9); how an exported VC
named its holder (item 10)

Only that organisation (its provider or ministry clients, its signed callbacks) and admins
may suspend or revoke the recognition. Recognitions recorded before this revision are given
the organisation their authority code names (``SUNEDU`` → ``sunedu``): the catalogue's
recognition providers use their authority code, lower-cased, as organisation id, and a
recognition that arrived by signed callback was made by that same organisation.

Revision ID: cre0005_recognising_authority
Revises: cre0004
Create Date: 2026-12-04 16:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'cre0005_recognising_authority'
down_revision: str | None = 'cre0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recognising_organisation_id', sa.String(length=64),
                                      nullable=True))
    with op.batch_alter_table('vc_issuances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_disclosure', sa.String(length=10),
                                      server_default='hash', nullable=False))
    # every export before this revision carried the clear name
    op.execute("UPDATE vc_issuances SET subject_disclosure = 'name'")
    op.execute("UPDATE credentials SET recognising_organisation_id = lower(recognition_body) "
               "WHERE recognition_body IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('vc_issuances', schema=None) as batch_op:
        batch_op.drop_column('subject_disclosure')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_column('recognising_organisation_id')
