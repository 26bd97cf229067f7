"""The Forward Work Plan (plans, priorities, action items, progress notes, links) and the group's outputs (issue 17)

Tables: work_plans, work_plan_priorities, action_items (status not started / in progress /
delivered), action_item_leads (organisations), action_item_notes (dated progress notes), the
links action item <-> events, outputs, commitments; outputs, output_versions (language, file or
link, date) and output <-> events.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _link_table(name: str, left: tuple[str, str], right: tuple[str, str]) -> None:
    (lcol, ltable), (rcol, rtable) = left, right
    op.create_table(
        name,
        sa.Column(lcol, sa.Integer(), nullable=False),
        sa.Column(rcol, sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([lcol], [f"{ltable}.id"], name=op.f(f"fk_{name}_{lcol}_{ltable}"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint([rcol], [f"{rtable}.id"], name=op.f(f"fk_{name}_{rcol}_{rtable}"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(lcol, rcol, name=op.f(f"pk_{name}")),
    )


def upgrade():
    op.create_table(
        "work_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_work_plans_period_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plans")),
    )
    op.create_table(
        "work_plan_priorities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.CheckConstraint("number > 0", name=op.f("ck_work_plan_priorities_number_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["work_plans.id"], name=op.f("fk_work_plan_priorities_plan_id_work_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plan_priorities")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_work_plan_priorities_plan_id_number")),
    )
    with op.batch_alter_table("work_plan_priorities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_plan_priorities_plan_id"), ["plan_id"], unique=False)
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("priority_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('not_started', 'in_progress', 'delivered')", name=op.f("ck_action_items_status_known")
        ),
        sa.CheckConstraint("number > 0", name=op.f("ck_action_items_number_positive")),
        sa.ForeignKeyConstraint(
            ["priority_id"],
            ["work_plan_priorities.id"],
            name=op.f("fk_action_items_priority_id_work_plan_priorities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
    )
    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_items_priority_id"), ["priority_id"], unique=False)
    op.create_table(
        "action_item_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_item_id", sa.Integer(), nullable=False),
        sa.Column("noted_on", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_item_id"],
            ["action_items.id"],
            name=op.f("fk_action_item_notes_action_item_id_action_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_action_item_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_item_notes")),
    )
    with op.batch_alter_table("action_item_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_item_notes_action_item_id"), ["action_item_id"], unique=False)
    op.create_table(
        "outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('compendium', 'research', 'survey', 'slides', 'outcome_statement', 'recording', 'other')",
            name=op.f("ck_outputs_kind_known"),
        ),
        sa.CheckConstraint("published = false OR published_on IS NOT NULL", name=op.f("ck_outputs_published_dated")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_outputs_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outputs")),
    )
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outputs_published_on"), ["published_on"], unique=False)
    op.create_table(
        "output_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("output_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("stored_name", sa.String(length=100), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(url IS NULL) <> (stored_name IS NULL)", name=op.f("ck_output_versions_file_or_link")),
        sa.ForeignKeyConstraint(
            ["output_id"], ["outputs.id"], name=op.f("fk_output_versions_output_id_outputs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_output_versions_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_output_versions")),
        sa.UniqueConstraint("output_id", "language", name=op.f("uq_output_versions_output_id_language")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_output_versions_stored_name")),
    )
    with op.batch_alter_table("output_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_output_versions_output_id"), ["output_id"], unique=False)

    _link_table("action_item_leads", ("action_item_id", "action_items"), ("organisation_id", "organisations"))
    _link_table("action_item_events", ("action_item_id", "action_items"), ("event_id", "events"))
    _link_table("action_item_outputs", ("action_item_id", "action_items"), ("output_id", "outputs"))
    _link_table("action_item_commitments", ("action_item_id", "action_items"), ("commitment_id", "commitments"))
    _link_table("output_events", ("output_id", "outputs"), ("event_id", "events"))
    for table, column in (
        ("action_item_events", "event_id"),
        ("action_item_outputs", "output_id"),
        ("action_item_commitments", "commitment_id"),
        ("output_events", "event_id"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade():
    for table, column in (
        ("output_events", "event_id"),
        ("action_item_commitments", "commitment_id"),
        ("action_item_outputs", "output_id"),
        ("action_item_events", "event_id"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
    op.drop_table("action_item_leads")
    with op.batch_alter_table("output_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_output_versions_output_id"))
    op.drop_table("output_versions")
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outputs_published_on"))
    op.drop_table("outputs")
    with op.batch_alter_table("action_item_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_item_notes_action_item_id"))
    op.drop_table("action_item_notes")
    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_items_priority_id"))
    op.drop_table("action_items")
    with op.batch_alter_table("work_plan_priorities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_plan_priorities_plan_id"))
    op.drop_table("work_plan_priorities")
    op.drop_table("work_plans")
