"""The Forward Work Plan (plans, priorities, action items, progress notes, links) and the group's outputs (issue 17)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:00:00

"""

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
