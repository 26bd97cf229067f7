"""Calendar entries kept ready: each event's public VEVENT per language (issue 19)

``calendar_entries``: the serialised VEVENT of an event in one language and the hash of what it
shows; ``calendar_zones``: each zone's VTIMEZONE. The subscribable feeds are put together from
these rows. No backfill: an entry missing or out of date is built and stored the first time a feed
reads it.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_entries",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("vevent", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_calendar_entries_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", "language", name=op.f("pk_calendar_entries")),
    )
    op.create_table(
        "calendar_zones",
        sa.Column("tzid", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("vtimezone", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tzid", name=op.f("pk_calendar_zones")),
    )


def downgrade():
    op.drop_table("calendar_zones")
    op.drop_table("calendar_entries")
