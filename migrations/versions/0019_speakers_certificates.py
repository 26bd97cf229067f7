"""Speakers' details, moderators and certificates of attendance (issue 15)

Speakers get a role (speaker or moderator), a short biography and a photo (the file name of a
resized JPEG the app wrote under SPEAKER_PHOTOS_DIR); events say whether the agenda PDF prints
speakers' details; certificates of attendance have a random verification code, one per
registration.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("speakers") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="speaker"))
        batch.add_column(sa.Column("bio", sa.Text(), nullable=True))
        batch.add_column(sa.Column("photo", sa.String(length=64), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("pdf_speaker_details", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("send_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_certificates_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_certificates_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("code", name=op.f("uq_certificates_code")),
    )
    with op.batch_alter_table("certificates") as batch:
        batch.create_index(batch.f("ix_certificates_event_id"), ["event_id"], unique=False)
        batch.create_index(batch.f("ix_certificates_registration_id"), ["registration_id"], unique=True)
        batch.create_index(batch.f("ix_certificates_send_requested_at"), ["send_requested_at"], unique=False)


def downgrade():
    op.drop_table("certificates")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("pdf_speaker_details")
    with op.batch_alter_table("speakers") as batch:
        batch.drop_column("photo")
        batch.drop_column("bio")
        batch.drop_column("role")
