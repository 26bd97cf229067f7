"""Registration as a guest sees it: waiting-list switch per event (issue 16)

``events.waiting_list``: when the capacity is reached, registrations join a waiting list (as
before, the default) or are refused with a clear message.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("waiting_list", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("events") as batch:
        batch.drop_column("waiting_list")
