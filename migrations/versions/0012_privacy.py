"""Personal data: consent records, retention settings, the privacy notice's versions (issue 18)

``privacy_notices``: the notice's text as administrators wrote it, one row per version (never
changed). ``consent_records``: what a person agreed to or withdrew (to register; to appear on
public pages), when, under which notice version. ``retention_periods``: days kept per kind of data
(registrations, accessibility, uploads, audit, mail), between 1 day and 10 years.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "privacy_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_privacy_notices_version_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_privacy_notices_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_notices")),
        sa.UniqueConstraint("version", name=op.f("uq_privacy_notices_version")),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("purpose IN ('register', 'public')", name=op.f("ck_consent_records_purpose_known")),
        sa.CheckConstraint("notice_version >= 0", name=op.f("ck_consent_records_notice_version_not_negative")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_consent_records_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_consent_records_registration_id_registrations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index("ix_consent_records_contact_purpose", ["contact_id", "purpose", "at"], unique=False)
    op.create_table(
        "retention_periods",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('registrations', 'accessibility', 'uploads', 'audit', 'mail')",
            name=op.f("ck_retention_periods_kind_known"),
        ),
        sa.CheckConstraint("days BETWEEN 1 AND 3650", name=op.f("ck_retention_periods_days_in_range")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_retention_periods_updated_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_retention_periods")),
    )


def downgrade():
    op.drop_table("retention_periods")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_records_contact_purpose")
        batch_op.drop_index(batch_op.f("ix_consent_records_contact_id"))
    op.drop_table("consent_records")
    op.drop_table("privacy_notices")
