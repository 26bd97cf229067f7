"""Personal data: consent records, retention settings, erasure (issue 18)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:40:00

"""

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
