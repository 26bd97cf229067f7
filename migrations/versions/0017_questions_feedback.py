"""Registration questions and feedback surveys (issue 15)

- event_questions: an event's own questions, on the registration form (purpose "registration") or
  in the feedback survey after the event (purpose "feedback"); kind, label, help text, required,
  choices (JSON), a condition on an earlier question's answer.
- registration_answers: a registrant's answers, with the question's label and the chosen labels
  as they were (the question may change or go later: question_id becomes NULL).
- feedback_surveys (one per event: on/off, anonymous, intro, when sent), feedback_responses (the
  registration only when not anonymous), feedback_answers, feedback_receipts (who has answered,
  so that a link works once; for an anonymous survey nothing links a receipt to a response).
Nothing existing changes: the registrations' accessibility_needs column stays the built-in
question.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "event_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("help_text", sa.String(length=1000), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=True),
        sa.Column("condition_question_id", sa.Integer(), nullable=True),
        sa.Column("condition_value", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("purpose IN ('registration', 'feedback')", name=op.f("ck_event_questions_question_purpose")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_questions_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["condition_question_id"],
            ["event_questions.id"],
            name=op.f("fk_event_questions_condition_question_id_event_questions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_questions")),
    )
    with op.batch_alter_table("event_questions") as batch_op:
        batch_op.create_index(batch_op.f("ix_event_questions_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_event_questions_event_purpose", ["event_id", "purpose", "position"], unique=False)

    op.create_table(
        "registration_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_answers_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["event_questions.id"],
            name=op.f("fk_registration_answers_question_id_event_questions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_answers")),
    )
    with op.batch_alter_table("registration_answers") as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_answers_registration_id"), ["registration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_answers_question_id"), ["question_id"], unique=False)

    op.create_table(
        "feedback_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("intro", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_feedback_surveys_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_surveys")),
        sa.UniqueConstraint("event_id", name=op.f("uq_feedback_surveys_event_id")),
    )
    op.create_table(
        "feedback_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("submitted_on", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_feedback_responses_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_feedback_responses_registration_id_registrations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_responses")),
    )
    with op.batch_alter_table("feedback_responses") as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_responses_event_id"), ["event_id"], unique=False)
    op.create_table(
        "feedback_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["feedback_responses.id"],
            name=op.f("fk_feedback_answers_response_id_feedback_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["event_questions.id"],
            name=op.f("fk_feedback_answers_question_id_event_questions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_answers")),
    )
    with op.batch_alter_table("feedback_answers") as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_answers_response_id"), ["response_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_answers_question_id"), ["question_id"], unique=False)
    op.create_table(
        "feedback_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("answered_on", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_feedback_receipts_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_feedback_receipts_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_receipts")),
        sa.UniqueConstraint("event_id", "registration_id", name="uq_feedback_receipts_event_reg"),
    )


def downgrade():
    op.drop_table("feedback_receipts")
    with op.batch_alter_table("feedback_answers") as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_answers_question_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_answers_response_id"))
    op.drop_table("feedback_answers")
    with op.batch_alter_table("feedback_responses") as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_responses_event_id"))
    op.drop_table("feedback_responses")
    op.drop_table("feedback_surveys")
    with op.batch_alter_table("registration_answers") as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_answers_question_id"))
        batch_op.drop_index(batch_op.f("ix_registration_answers_registration_id"))
    op.drop_table("registration_answers")
    with op.batch_alter_table("event_questions") as batch_op:
        batch_op.drop_index("ix_event_questions_event_purpose")
        batch_op.drop_index(batch_op.f("ix_event_questions_event_id"))
    op.drop_table("event_questions")
