"""Messages to registrants and organisers' mail texts (issue 15)

- event_messages: a message an organiser sent to some of an event's people (subject, body, the
  audience filter as JSON, how many recipients, who sent it and when); event_message_recipients:
  each recipient with their registration or invitation and the outbox row carrying the mail.
- mail_texts: an organiser's wording of one kind of mail for one event (one per event and kind).
- invitee_reminder_settings: the automatic reminder to invitees who have not answered, N days
  before registration closes (NULL: off, the default); invitation_reminders: when each invitation
  was reminded (once).
Nothing existing changes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KINDS = ("invitation", "invitation_reminder", "confirmation", "waiting_list", "reminder", "follow_up")


def upgrade():
    op.create_table(
        "event_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_messages_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"], ["users.id"], name=op.f("fk_event_messages_sent_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_messages")),
    )
    with op.batch_alter_table("event_messages") as batch_op:
        batch_op.create_index(batch_op.f("ix_event_messages_event_id"), ["event_id"], unique=False)

    op.create_table(
        "event_message_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["event_messages.id"],
            name=op.f("fk_event_message_recipients_message_id_event_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_event_message_recipients_registration_id_registrations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_event_message_recipients_invitation_id_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["mail_outbox.id"],
            name=op.f("fk_event_message_recipients_outbox_message_id_mail_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_message_recipients")),
    )
    with op.batch_alter_table("event_message_recipients") as batch_op:
        batch_op.create_index(batch_op.f("ix_event_message_recipients_message_id"), ["message_id"], unique=False)

    op.create_table(
        "mail_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")", name=op.f("ck_mail_texts_mail_text_kind")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_mail_texts_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_mail_texts_updated_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_texts")),
        sa.UniqueConstraint("event_id", "kind", name=op.f("uq_mail_texts_event_id_kind")),
    )
    with op.batch_alter_table("mail_texts") as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_texts_event_id"), ["event_id"], unique=False)

    op.create_table(
        "invitee_reminder_settings",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_invitee_reminder_settings_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_invitee_reminder_settings")),
    )
    op.create_table(
        "invitation_reminders",
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_invitation_reminders_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["mail_outbox.id"],
            name=op.f("fk_invitation_reminders_outbox_message_id_mail_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("invitation_id", name=op.f("pk_invitation_reminders")),
    )


def downgrade():
    op.drop_table("invitation_reminders")
    op.drop_table("invitee_reminder_settings")
    with op.batch_alter_table("mail_texts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_texts_event_id"))
    op.drop_table("mail_texts")
    with op.batch_alter_table("event_message_recipients") as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_message_recipients_message_id"))
    op.drop_table("event_message_recipients")
    with op.batch_alter_table("event_messages") as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_messages_event_id"))
    op.drop_table("event_messages")
