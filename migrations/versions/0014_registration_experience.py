"""Registration as a guest sees it: waiting-list switch per event (issue 16)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:40:00

"""

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
