"""attendance merge (issue 11: imports merged, undone)

A second report for an event no longer replaces the first: each import keeps its sessions, one
row per session in ``attendance_sessions`` (which import read it, and which later replace removed
it), and a person's minutes are the union of their active sessions across imports. Imports get
the file's content hash (the same file twice changes nothing), their mode (merge or replace), the
effect they had, and when and by whom they were undone. Attendance rows get the person's key (one
row per person and event), the country the platform gave, and how many active sessions they have.

The sessions kept as JSON on each row move to the new table (the sessions of a row without times
get the row's minutes that the timed ones do not explain, as the platform's duration did), then
the JSON column goes. The downgrade writes the active sessions back as JSON.

A report waiting for confirmation keeps its people as the parser read them, one row each in
``attendance_staged_people`` (issue 12: a report is parsed once, at upload; the preview pages
through these rows).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 11:05:00

"""

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attendance_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("join_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leave_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "join_at IS NULL OR leave_at IS NULL OR leave_at >= join_at",
            name=op.f("ck_attendance_sessions_leave_not_before_join"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["attendance_imports.id"],
            name=op.f("fk_attendance_sessions_import_id_attendance_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["attendance_records.id"],
            name=op.f("fk_attendance_sessions_record_id_attendance_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["removed_by_id"],
            ["attendance_imports.id"],
            name=op.f("fk_attendance_sessions_removed_by_id_attendance_imports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_sessions")),
    )
    with op.batch_alter_table("attendance_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_sessions_import_id"), ["import_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_sessions_record_id"), ["record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_sessions_removed_by_id"), ["removed_by_id"], unique=False)

    op.create_table(
        "attendance_staged_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["pending_uploads.id"],
            name=op.f("fk_attendance_staged_people_upload_id_pending_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_staged_people")),
        sa.UniqueConstraint("upload_id", "position", name=op.f("uq_attendance_staged_people_upload_id_position")),
    )

    with op.batch_alter_table("attendance_imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("mode", sa.String(length=16), server_default="merge", nullable=False))
        batch_op.add_column(sa.Column("effect", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("undone_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_attendance_imports_undone_by_id_users"),
            "users",
            ["undone_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(batch_op.f("ck_attendance_imports_mode_known"), "mode IN ('merge', 'replace')")
        batch_op.create_index("ix_attendance_imports_event_content_hash", ["event_id", "content_hash"], unique=False)

    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_key", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("session_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(
            batch_op.f("ck_attendance_records_session_count_not_negative"), "session_count >= 0"
        )

    _sessions_to_rows()

    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_attendance_records_event_id_person_key"), ["event_id", "person_key"]
        )
        batch_op.drop_column("sessions")


def downgrade():
    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sessions", sa.JSON(), nullable=True))

    _rows_to_sessions()

    with op.batch_alter_table("attendance_records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_attendance_records_event_id_person_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_attendance_records_session_count_not_negative"), type_="check")
        batch_op.drop_column("session_count")
        batch_op.drop_column("country")
        batch_op.drop_column("person_key")

    with op.batch_alter_table("attendance_imports", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_imports_event_content_hash")
        batch_op.drop_constraint(batch_op.f("ck_attendance_imports_mode_known"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_attendance_imports_undone_by_id_users"), type_="foreignkey")
        batch_op.drop_column("undone_by_id")
        batch_op.drop_column("undone_at")
        batch_op.drop_column("effect")
        batch_op.drop_column("mode")
        batch_op.drop_column("content_hash")

    op.drop_table("attendance_staged_people")

    with op.batch_alter_table("attendance_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_sessions_removed_by_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_sessions_record_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_sessions_import_id"))
    op.drop_table("attendance_sessions")


# Moving the data ---------------------------------------------------------------------------------

_records = sa.table(
    "attendance_records",
    sa.column("id", sa.Integer),
    sa.column("event_id", sa.Integer),
    sa.column("import_id", sa.Integer),
    sa.column("source", sa.String),
    sa.column("name", sa.String),
    sa.column("email", sa.String),
    sa.column("minutes", sa.Integer),
    sa.column("sessions", sa.JSON),
    sa.column("person_key", sa.String),
    sa.column("session_count", sa.Integer),
)
_sessions = sa.table(
    "attendance_sessions",
    sa.column("id", sa.Integer),
    sa.column("record_id", sa.Integer),
    sa.column("import_id", sa.Integer),
    sa.column("join_at", sa.DateTime(timezone=True)),
    sa.column("leave_at", sa.DateTime(timezone=True)),
    sa.column("duration", sa.Float),
    sa.column("role", sa.String),
    sa.column("line", sa.Integer),
    sa.column("removed_by_id", sa.Integer),
)
_imports = sa.table("attendance_imports", sa.column("id", sa.Integer), sa.column("undone_at", sa.DateTime))


def _person_key(name, email):
    # The application's own rule (a pure function: no database, no app), so that the keys written
    # here are those the next import computes; cut as attendance.services.stored_key cuts them.
    from webinar_mgr.attendance.parsers import person_key

    key = person_key(name or "", email)
    return key if len(key) <= 320 else f"{key[:255]}#{hashlib.sha256(key.encode()).hexdigest()}"


def _when(text, sqlite):
    if not text:
        return None
    value = datetime.fromisoformat(text)
    value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value.replace(tzinfo=None) if sqlite else value


def _sessions_to_rows():
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    rows = bind.execute(
        sa.select(
            _records.c.id,
            _records.c.event_id,
            _records.c.import_id,
            _records.c.source,
            _records.c.name,
            _records.c.email,
            _records.c.minutes,
            _records.c.sessions,
        ).order_by(_records.c.id)
    ).all()
    seen: set[tuple[int, str]] = set()
    for rid, event_id, import_id, source, name, email, minutes, sessions in rows:
        if source != "import":
            continue
        key = _person_key(name, email)
        if (event_id, key) in seen:  # cannot happen with rows the importer wrote; kept apart if it does
            key = f"{key[:300]}#{rid}"
        seen.add((event_id, key))
        new = _session_rows(rid, import_id, minutes or 0, sessions or [], sqlite) if import_id else []
        if new:
            bind.execute(sa.insert(_sessions), new)
        bind.execute(_records.update().where(_records.c.id == rid).values(person_key=key[:320], session_count=len(new)))


def _session_rows(record_id, import_id, minutes, sessions, sqlite):
    """The JSON sessions of one row as table rows. The sessions without both times get the minutes
    the timed ones do not explain (the platform's duration, which is all the row had)."""
    out = []
    for s in sessions:
        out.append(
            {
                "record_id": record_id,
                "import_id": import_id,
                "join_at": _when(s.get("join"), sqlite),
                "leave_at": _when(s.get("leave"), sqlite),
                "duration": None,
                "role": (s.get("role") or "attendee")[:32],
                "line": int(s.get("line") or 0),
            }
        )
    if not out:
        out.append(
            {"record_id": record_id, "import_id": import_id, "join_at": None, "leave_at": None}
            | {"duration": float(minutes), "role": "attendee", "line": 0}
        )
        return out
    untimed = [r for r in out if not (r["join_at"] and r["leave_at"])]
    if untimed:
        timed = sorted((r["join_at"], r["leave_at"]) for r in out if r["join_at"] and r["leave_at"])
        covered, end = 0.0, None
        for a, b in timed:
            if end is None or a > end:
                covered += (b - a).total_seconds()
                end = b
            elif b > end:
                covered += (b - end).total_seconds()
                end = b
        untimed[0]["duration"] = max(0.0, minutes - covered / 60)
    return out


def _rows_to_sessions():
    """Downgrade: each row's active sessions back into its JSON column (the older code reads them)."""
    bind = op.get_bind()
    active = (
        sa.select(
            _sessions.c.record_id,
            _sessions.c.join_at,
            _sessions.c.leave_at,
            _sessions.c.role,
            _sessions.c.line,
        )
        .join(_imports, _imports.c.id == _sessions.c.import_id)
        .where(_imports.c.undone_at.is_(None), _sessions.c.removed_by_id.is_(None))
        .order_by(_sessions.c.record_id, _sessions.c.join_at, _sessions.c.line)
    )
    by_record: dict[int, list[dict]] = {}
    for rid, join, leave, role, line in bind.execute(active):
        by_record.setdefault(rid, []).append(
            {
                "join": _iso(join),
                "leave": _iso(leave),
                "role": role,
                "line": line,
            }
        )
    for rid, sessions in by_record.items():
        bind.execute(_records.update().where(_records.c.id == rid).values(sessions=sessions))


def _iso(value):
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
