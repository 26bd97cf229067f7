"""Outbox rows whose content the worker renders (issue 19)

``mail_outbox.render_kind`` and ``render_data``: a web request that causes a mail (a registration's
confirmation) writes what the mail is about (the renderer's name, ids and the facts at the time, as
JSON); the worker renders the subject, bodies and calendar entry just before delivery, so the
request does not. Existing rows are complete already (both columns NULL).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("render_kind", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("render_data", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("render_data")
        batch.drop_column("render_kind")
