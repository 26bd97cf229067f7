"""directory review (issue 11: organisations added by people, their member government)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:05:00

"""

import sqlalchemy as sa  # noqa: F401 - used once the upgrade is written
from alembic import op  # noqa: F401 - used once the upgrade is written

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
