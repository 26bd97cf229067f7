"""attendance merge (issue 11: imports merged, undone)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 11:05:00

"""

import sqlalchemy as sa  # noqa: F401 - used once the upgrade is written
from alembic import op  # noqa: F401 - used once the upgrade is written

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
