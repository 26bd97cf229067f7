"""The co-chairs' review's figures kept per event, with a version the database raises (issue 19)

``review_event_versions``: each event's version; ``review_kept_figures``: an event's figures per
sector and member government counted at a version (and one row with the sector '' marking that
they are kept). Triggers raise the event's version and delete its kept figures on every insert,
delete and update (of the columns the review counts) of its ``registrations`` and
``attendance_records`` rows, and when the event is deleted. No backfill: an event without
figures at its current version is counted by the next review that shows it, which keeps them
(reports.queries.period_registrations).

The triggers are written for PostgreSQL (PL/pgSQL) and SQLite (one trigger per table and
operation); they catch every path that writes the rows, including bulk statements and foreign
keys' cascades and SET NULL. On PostgreSQL a version already raised by the same transaction is
not raised again (updating one row 300 times in a transaction walks its row versions each time:
300 registrations' status in one transaction took 3.7 ms a row instead of 1.0); the review keeps
no figures of an event whose version its own transaction raised, so a change made after them in
that transaction cannot be missed.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 01:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# The columns whose change changes the review's figures (registrations.id and
# attendance_records.id are never updated).
COUNTED = {
    "registrations": ("event_id", "status", "sector", "member_government_id", "invitation_id"),
    "attendance_records": ("event_id", "registration_id", "attended"),
}

PG_FUNCTIONS = """
CREATE FUNCTION review_event_changed(p_event_id integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM review_event_versions WHERE event_id = p_event_id AND xmin = pg_current_xact_id()::xid) THEN
        RETURN;  -- raised by this transaction already
    END IF;
    INSERT INTO review_event_versions AS v (event_id, version) VALUES (p_event_id, 1)
    ON CONFLICT (event_id) DO UPDATE SET version = v.version + 1;
    DELETE FROM review_kept_figures WHERE event_id = p_event_id;
END
$$;
CREATE FUNCTION review_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM review_event_changed(OLD.event_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.event_id IS DISTINCT FROM OLD.event_id) THEN
        PERFORM review_event_changed(NEW.event_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION review_event_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_event_changed(OLD.id);
    RETURN NULL;
END
$$;
"""


def _sqlite_raise(ref: str) -> str:
    return (
        f"INSERT OR IGNORE INTO review_event_versions (event_id, version) VALUES ({ref}, 0); "
        f"UPDATE review_event_versions SET version = version + 1 WHERE event_id = {ref}; "
        f"DELETE FROM review_kept_figures WHERE event_id = {ref};"
    )


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
        for table, columns in COUNTED.items():
            op.execute(
                f"CREATE TRIGGER review_{table}_changed AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION review_rows_changed()"
            )
        op.execute(
            "CREATE TRIGGER review_events_deleted AFTER DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION review_event_deleted()"
        )
        return
    for table, columns in COUNTED.items():
        op.execute(
            f"CREATE TRIGGER review_{table}_inserted AFTER INSERT ON {table} BEGIN {_sqlite_raise('NEW.event_id')} END"
        )
        op.execute(
            f"CREATE TRIGGER review_{table}_deleted AFTER DELETE ON {table} BEGIN {_sqlite_raise('OLD.event_id')} END"
        )
        op.execute(
            f"CREATE TRIGGER review_{table}_updated AFTER UPDATE OF {', '.join(columns)} ON {table} BEGIN "
            f"{_sqlite_raise('OLD.event_id')} {_sqlite_raise('NEW.event_id')} END"
        )
    op.execute(f"CREATE TRIGGER review_events_deleted AFTER DELETE ON events BEGIN {_sqlite_raise('OLD.id')} END")


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in COUNTED:
            op.execute(f"DROP TRIGGER review_{table}_changed ON {table}")
        op.execute("DROP TRIGGER review_events_deleted ON events")
        op.execute("DROP FUNCTION review_event_deleted()")
        op.execute("DROP FUNCTION review_rows_changed()")
        op.execute("DROP FUNCTION review_event_changed(integer)")
        return
    for table in COUNTED:
        for what in ("inserted", "deleted", "updated"):
            op.execute(f"DROP TRIGGER review_{table}_{what}")
    op.execute("DROP TRIGGER review_events_deleted")


def upgrade():
    op.create_table(
        "review_event_versions",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_review_event_versions")),
    )
    op.create_table(
        "review_kept_figures",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.Column("confirmed", sa.Integer(), nullable=False),
        sa.Column("invited_registered", sa.Integer(), nullable=False),
        sa.Column("attended", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "version", "sector", "member_id", name=op.f("pk_review_kept_figures")),
    )
    _create_triggers()


def downgrade():
    _drop_triggers()
    op.drop_table("review_kept_figures")
    op.drop_table("review_event_versions")
