"""Working Group membership with dates, and the co-chairs' statement drafts (issue 17)

- working_group_memberships: a member government's periods in the Working Group itself (joined,
  left). Every organisation flagged ``working_group_member`` gets one period, open, starting the
  day before the first event ever recorded (NULL, "before the records", when there is none), so
  every report of a past period counts the same members as before the migration. The flag stays
  as "a member today" (the application keeps it in step); the downgrade drops the periods and
  leaves the flag as it is today.
- statement_versions: saved versions of the co-chairs' statement for a period (the text of every
  section, the generated text it started from, who saved it and when).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:00:00

"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "working_group_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "left_on IS NULL OR joined_on IS NULL OR left_on > joined_on",
            name=op.f("ck_working_group_memberships_membership_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_working_group_memberships_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_working_group_memberships")),
    )
    with op.batch_alter_table("working_group_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_working_group_memberships_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "statement_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("generated", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_statement_versions_period_ordered")),
        sa.CheckConstraint("number > 0", name=op.f("ck_statement_versions_number_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_statement_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_versions")),
        sa.UniqueConstraint(
            "period_start", "period_end", "number", name=op.f("uq_statement_versions_period_start_period_end_number")
        ),
    )

    bind = op.get_bind()
    first = bind.execute(sa.text("SELECT MIN(starts_at) FROM events")).scalar()
    joined_on = None
    if first is not None:
        if isinstance(first, str):  # SQLite hands the stored text back
            first = datetime.fromisoformat(first)
        if first.tzinfo is not None:
            first = first.astimezone(UTC)
        joined_on = first.date() - timedelta(days=1)
    ids = bind.execute(sa.text("SELECT id FROM organisations WHERE working_group_member")).scalars().all()
    if ids:
        memberships = sa.table(
            "working_group_memberships",
            sa.column("organisation_id", sa.Integer()),
            sa.column("joined_on", sa.Date()),
            sa.column("created_at", sa.DateTime(timezone=True)),
        )
        now = datetime.now(UTC)
        op.bulk_insert(memberships, [{"organisation_id": i, "joined_on": joined_on, "created_at": now} for i in ids])


def downgrade():
    op.drop_table("statement_versions")
    with op.batch_alter_table("working_group_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_working_group_memberships_organisation_id"))
    op.drop_table("working_group_memberships")
