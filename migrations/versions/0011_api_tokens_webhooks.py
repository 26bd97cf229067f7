"""API personal tokens and webhooks (issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 11:30:00

"""

import sqlalchemy as sa  # noqa: F401 - used once the upgrade is written
from alembic import op  # noqa: F401 - used once the upgrade is written

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
