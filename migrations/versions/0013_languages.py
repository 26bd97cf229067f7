"""Languages: a contact's preferred language, event and agenda translations (issue 13)

contacts.language: the language of the mails sent to the person (an offered code or NULL);
registrations.language: the interface's language when they registered (a guest's mails);
event_translations / agenda_item_translations: an organiser's translations of an event's title,
summary, objectives and agenda item titles, one row per language.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))

    op.create_table(
        "event_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_translations_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_translations")),
        sa.UniqueConstraint("event_id", "language", name=op.f("uq_event_translations_event_id_language")),
    )
    with op.batch_alter_table("event_translations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_translations_event_id"), ["event_id"], unique=False)

    op.create_table(
        "agenda_item_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["agenda_items.id"],
            name=op.f("fk_agenda_item_translations_agenda_item_id_agenda_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_item_translations")),
        sa.UniqueConstraint(
            "agenda_item_id", "language", name=op.f("uq_agenda_item_translations_agenda_item_id_language")
        ),
    )
    with op.batch_alter_table("agenda_item_translations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agenda_item_translations_agenda_item_id"), ["agenda_item_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("agenda_item_translations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agenda_item_translations_agenda_item_id"))
    op.drop_table("agenda_item_translations")
    with op.batch_alter_table("event_translations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_translations_event_id"))
    op.drop_table("event_translations")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("language")
