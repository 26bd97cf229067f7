"""The Forward Work Plan (plans, priorities, action items, progress notes, links) and the group's outputs (issue 17)

Tables: work_plans, work_plan_priorities, action_items (status not started / in progress /
delivered), action_item_leads (organisations), action_item_notes (dated progress notes), the
links action item <-> events, outputs, commitments; outputs, output_versions (language, file or
link, date) and output <-> events.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:00:00

"""

import json
import re
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


# The Forward Work Plan 2021-23 as the migration knows it (frozen here; the demo data, seed.py, adds
# leads, targets, statuses and notes to the same plan, found by its name). Created only when events
# carry free-text priority tags to move onto its action items.
PLAN_NAME = "Forward Work Plan 2021-23"
PRIORITIES = (
    (1, "Law and justice responses to trafficking in persons"),
    (2, "Protection and support for victims"),
    (3, "Criminal exploitation in supply chains"),
    (4, "New and emerging priorities"),
    (5, "Forced marriage and the Working Group's reach in the region"),
)
# (number, priority, text, the tags that name it, normalised: lower case, words only)
ACTION_ITEMS = (
    (
        1,
        1,
        "Share members' laws and practice on criminalising, investigating and prosecuting trafficking "
        "in persons, including through virtual seminars convened by members and the RSO.",
        ("law and justice", "criminal justice", "prosecution", "criminalisation"),
    ),
    (
        2,
        1,
        "Strengthen cooperation with the ASEAN SOMTC Working Group on Trafficking in Persons through "
        "reciprocal updates and joint action on shared priorities.",
        ("asean", "somtc", "asean somtc"),
    ),
    (
        3,
        2,
        "Disseminate the Viet Nam/IOM-led survey on the impacts of COVID-19 on victim support measures "
        "across the region.",
        ("victim support", "victims", "covid 19 survey"),
    ),
    (
        4,
        2,
        "Promote coordinated responses to trafficking for forced criminality in scam compounds, with the "
        "Technical Experts Group on Returns and Reintegration and the Working Group on Disruption.",
        ("forced criminality", "scam centres", "scam factories", "returns and reintegration"),
    ),
    (
        5,
        3,
        "Develop and launch a Compendium of Good Practice Examples to Combat Criminal Exploitation in Supply Chains.",
        ("supply chains", "compendium"),
    ),
    (
        6,
        3,
        "Translate the Compendium into regional languages and promote it with policy officials.",
        ("compendium translations",),
    ),
    (
        7,
        4,
        "Consider new and emerging priorities at each annual meeting and set the regional webinars' themes from them.",
        ("new and emerging priorities",),
    ),
    (
        8,
        4,
        "Hold regional webinars on new and emerging issues (the COVID-19 recovery phase, the role of technology).",
        (
            "priority 4",
            "priority 4 new and emerging issues",
            "new and emerging issues",
            "emerging issues",
            "covid 19",
            "covid 19 recovery",
        ),
    ),
    (
        9,
        4,
        "Enhance practical cooperation with digital industry, including trafficking indicators for the online context.",
        ("technology", "digital industry", "online exploitation", "tech"),
    ),
    (
        10,
        5,
        "Commission research on the legislative approaches to the links between forced marriage and "
        "trafficking in persons, for the 2023 Annual Meeting.",
        ("forced marriage", "research"),
    ),
    (
        11,
        5,
        "Review the Working Group's membership so that it remains responsive to regional trafficking trends.",
        ("membership", "membership review"),
    ),
)
_ITEM_TAG = re.compile(r"^(?:action item|action|ai) (\d{1,2})$")


def _normalise(tag: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", tag.lower()).split())


def match_tag(tag: str) -> int | None:
    """The action item number a free-text priority tag names, or None: "Action item 8" / "AI 8",
    or one of the names an action item is known by ("Technology", "Priority 4: new and emerging
    issues"). Exact after normalising (case, punctuation); never a guess on part of a word."""
    key = _normalise(tag)
    found = _ITEM_TAG.match(key)
    if found and 1 <= int(found.group(1)) <= len(ACTION_ITEMS):
        return int(found.group(1))
    for number, _priority, _text, names in ACTION_ITEMS:
        if key in names:
            return number
    return None


def _tags(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return [str(t) for t in value or [] if str(t).strip()]


def _migrate_priority_tags() -> None:
    """Each event's tags: a tag naming an action item becomes a link to it (the tag kept on the link,
    migrated_from_tag); the others stay on the event (shown as its other themes, listed for the
    organisers on the work plan page). Nothing is dropped."""
    bind = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer), sa.column("priority_tags", sa.JSON))
    tagged = [(eid, _tags(tags)) for eid, tags in bind.execute(sa.select(events.c.id, events.c.priority_tags))]
    tagged = [(eid, tags) for eid, tags in tagged if tags]
    if not tagged or not any(match_tag(t) for _eid, tags in tagged for t in tags):
        return
    plans = sa.table(
        "work_plans",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("period_start", sa.Date),
        sa.column("period_end", sa.Date),
        sa.column("current", sa.Boolean),
        sa.column("summary", sa.Text),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    priorities = sa.table(
        "work_plan_priorities",
        sa.column("id", sa.Integer),
        sa.column("plan_id", sa.Integer),
        sa.column("number", sa.Integer),
        sa.column("title", sa.String),
        sa.column("description", sa.Text),
    )
    items = sa.table(
        "action_items",
        sa.column("id", sa.Integer),
        sa.column("priority_id", sa.Integer),
        sa.column("number", sa.Integer),
        sa.column("text", sa.Text),
        sa.column("target", sa.String),
        sa.column("status", sa.String),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    links = sa.table(
        "action_item_events",
        sa.column("action_item_id", sa.Integer),
        sa.column("event_id", sa.Integer),
        sa.column("migrated_from_tag", sa.String),
    )
    now = datetime.now(UTC)
    plan_id = bind.execute(
        sa.insert(plans)
        .values(
            name=PLAN_NAME,
            period_start=date(2021, 1, 1),
            period_end=date(2023, 12, 31),
            current=True,
            summary="",
            created_at=now,
        )
        .returning(plans.c.id)
    ).scalar_one()
    priority_ids = {}
    for number, title in PRIORITIES:
        priority_ids[number] = bind.execute(
            sa.insert(priorities)
            .values(plan_id=plan_id, number=number, title=title, description="")
            .returning(priorities.c.id)
        ).scalar_one()
    item_ids = {}
    for number, priority, text, _names in ACTION_ITEMS:
        item_ids[number] = bind.execute(
            sa.insert(items)
            .values(
                priority_id=priority_ids[priority],
                number=number,
                text=text,
                target="",
                status="not_started",
                updated_at=now,
            )
            .returning(items.c.id)
        ).scalar_one()
    for event_id, tags in tagged:
        kept, linked = [], {}
        for tag in tags:
            number = match_tag(tag)
            if number is None:
                kept.append(tag)
            elif item_ids[number] not in linked:
                linked[item_ids[number]] = tag
            else:  # a second tag naming the same action item: kept on the link too
                linked[item_ids[number]] = f"{linked[item_ids[number]]}\n{tag}"
        for item_id, tag in linked.items():
            bind.execute(sa.insert(links).values(action_item_id=item_id, event_id=event_id, migrated_from_tag=tag))
        if linked:
            bind.execute(sa.update(events).where(events.c.id == event_id).values(priority_tags=kept))


def _restore_priority_tags() -> None:
    """Back to tags: each link to an action item becomes the tag it came from, or "Action item N"."""
    bind = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer), sa.column("priority_tags", sa.JSON))
    rows = bind.execute(
        sa.text(
            "SELECT l.event_id, l.migrated_from_tag, a.number FROM action_item_events l "
            "JOIN action_items a ON a.id = l.action_item_id ORDER BY l.event_id, a.number"
        )
    ).all()
    back: dict[int, list[str]] = {}
    for event_id, tag, number in rows:
        back.setdefault(event_id, []).extend(tag.split("\n") if tag else [f"Action item {number}"])
    for event_id, tags in back.items():
        current = _tags(bind.execute(sa.select(events.c.priority_tags).where(events.c.id == event_id)).scalar())
        bind.execute(
            sa.update(events)
            .where(events.c.id == event_id)
            .values(priority_tags=tags + [t for t in current if t not in tags])
        )


def _link_table(name: str, left: tuple[str, str], right: tuple[str, str], *extra: sa.Column) -> None:
    (lcol, ltable), (rcol, rtable) = left, right
    op.create_table(
        name,
        sa.Column(lcol, sa.Integer(), nullable=False),
        sa.Column(rcol, sa.Integer(), nullable=False),
        *extra,
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
    _link_table(
        "action_item_events",
        ("action_item_id", "action_items"),
        ("event_id", "events"),
        sa.Column("migrated_from_tag", sa.String(length=500), nullable=True),
    )
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
    _migrate_priority_tags()


def downgrade():
    _restore_priority_tags()
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
