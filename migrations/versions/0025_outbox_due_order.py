"""The outbox's due index in the worker's order: (status, next_attempt_at, id) (issue 19)

The worker claims the due messages ``ORDER BY next_attempt_at, id LIMIT n``. With the index on
(status, next_attempt_at) alone, PostgreSQL sorted every queued row sharing a next_attempt_at (5,000
invitations queued together share a handful) for each claim of 20; with ``id`` in the index the
claim reads the first n rows in order and stops. Same name, one more column.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 01:40:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_due")
        batch_op.create_index("ix_mail_outbox_due", ["status", "next_attempt_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_due")
        batch_op.create_index("ix_mail_outbox_due", ["status", "next_attempt_at"], unique=False)
