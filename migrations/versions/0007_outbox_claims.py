"""outbox claims (issue 12: claim tokens, failure reasons)

A worker's claim on a message carries a random token (``claim_token``, indexed: each worker
looks up and updates "its" rows by it); ``last_attempt_at`` says when the last delivery attempt
ended, so failed messages can be retried "since a date". Rows already sent or failed get the
best value known: the time sent, or the time their last attempt was due.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 11:05:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_mail_outbox_claim_token"), ["claim_token"], unique=False)

    op.execute("UPDATE mail_outbox SET last_attempt_at = sent_at WHERE status = 'sent'")
    op.execute("UPDATE mail_outbox SET last_attempt_at = next_attempt_at WHERE status = 'failed'")


def downgrade():
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_claim_token"))
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("claim_token")
