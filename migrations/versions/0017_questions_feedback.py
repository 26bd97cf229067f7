"""Registration questions and feedback surveys (issue 15)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 16:00:00

"""

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
