"""Messages to registrants and organisers' mail texts (issue 15)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 16:00:00

"""

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
