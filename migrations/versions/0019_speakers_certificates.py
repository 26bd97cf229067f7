"""Speakers' details, moderators and certificates of attendance (issue 15)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:00:00

"""

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
