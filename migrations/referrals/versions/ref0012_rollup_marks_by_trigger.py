"""Reports: a referral's write marks its month changed for the rollups in the database
itself (a trigger), not by a second statement from the ORM: one round trip less for every
referral created or moved, and bulk writes are seen too (issue 22, decision 0019).

Revision ID: ref0012_rollup_marks_by_trigger
Revises: ref0011_report_rollup_days
Create Date: 2026-12-05 12:10:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'ref0012_rollup_marks_by_trigger'
down_revision: str | None = 'ref0011_report_rollup_days'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the month (UTC) of an instant, as report_rollup_dirty.month: PostgreSQL's date; SQLite's
# text, the first seven characters of the UTC instant SQLAlchemy stored, and the first day
PG_FUNCTION = """
CREATE FUNCTION report_rollup_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO report_rollup_dirty (month)
        VALUES (date_trunc('month', NEW.created_at AT TIME ZONE 'UTC')::date);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND
            date_trunc('month', OLD.created_at AT TIME ZONE 'UTC')
            <> date_trunc('month', NEW.created_at AT TIME ZONE 'UTC')) THEN
        INSERT INTO report_rollup_dirty (month)
        VALUES (date_trunc('month', OLD.created_at AT TIME ZONE 'UTC')::date);
    END IF;
    RETURN NULL;
END $$
"""
PG_TRIGGER = """
CREATE TRIGGER report_rollup_mark AFTER INSERT OR UPDATE OR DELETE ON referrals
FOR EACH ROW EXECUTE FUNCTION report_rollup_mark()
"""
SQLITE_MONTH = "substr({row}.created_at, 1, 7) || '-01'"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER report_rollup_mark_insert AFTER INSERT ON referrals BEGIN
        INSERT INTO report_rollup_dirty (month) VALUES ({SQLITE_MONTH.format(row='NEW')});
    END""",
    f"""CREATE TRIGGER report_rollup_mark_update AFTER UPDATE ON referrals BEGIN
        INSERT INTO report_rollup_dirty (month) VALUES ({SQLITE_MONTH.format(row='NEW')});
        INSERT INTO report_rollup_dirty (month) SELECT {SQLITE_MONTH.format(row='OLD')}
        WHERE {SQLITE_MONTH.format(row='OLD')} <> {SQLITE_MONTH.format(row='NEW')};
    END""",
    f"""CREATE TRIGGER report_rollup_mark_delete AFTER DELETE ON referrals BEGIN
        INSERT INTO report_rollup_dirty (month) VALUES ({SQLITE_MONTH.format(row='OLD')});
    END""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER report_rollup_mark ON referrals')
        op.execute('DROP FUNCTION report_rollup_mark()')
    else:
        for name in ('insert', 'update', 'delete'):
            op.execute(f'DROP TRIGGER report_rollup_mark_{name}')
